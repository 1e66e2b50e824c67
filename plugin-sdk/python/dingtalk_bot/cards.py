"""Interactive cards: StandardCards sent to the conversation of the message being
handled, card instances of advanced templates (AI cards stream into them), and the
card callbacks DingTalk pushes when a user presses a button (the Rust and TypeScript
SDKs' names, snake_case)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Optional

from ._wit import imports
from .errors import host_call

#: The topic of card callbacks (``@bot.on_callback(cards.CALLBACK_TOPIC)``).
CALLBACK_TOPIC = "/v1.0/card/instances/callback"


def send_standard(card_biz_id: str, card: dict) -> str:
    """Send a StandardCard (its JSON object); DingTalk's processQueryKey."""
    return host_call(imports().cards.send_standard, card_biz_id, json.dumps(card, ensure_ascii=False))


def update_standard(card_biz_id: str, card: dict) -> None:
    """Replace the data of a StandardCard sent earlier."""
    host_call(imports().cards.update_standard, card_biz_id, json.dumps(card, ensure_ascii=False))


@dataclass
class CardInstance:
    """An instance of an advanced card template."""

    template_id: str
    out_track_id: str
    params: dict = field(default_factory=dict)
    callback_route_key: Optional[str] = None

    def _wit(self):
        return imports().cards.CardInstance(
            self.template_id,
            self.out_track_id,
            json.dumps(self.params, ensure_ascii=False),
            self.callback_route_key,
        )


def create_instance(card: CardInstance) -> None:
    """Create a card instance (not yet shown)."""
    host_call(imports().cards.create_instance, card._wit())


def deliver_instance(out_track_id: str) -> None:
    """Show a created instance in the conversation of the message being handled."""
    host_call(imports().cards.deliver_instance, out_track_id)


def create_and_deliver(card: CardInstance) -> None:
    """Create an instance and show it in the conversation of the message being handled."""
    host_call(imports().cards.create_and_deliver, card._wit())


def update_instance(out_track_id: str, params: dict, private_params: Optional[dict] = None, by_key: bool = True) -> None:
    """Update an instance's variables (only the given keys with ``by_key``), and
    optionally per-user private variables (``{"<userId>": {..}}``)."""
    private = None if private_params is None else json.dumps(private_params, ensure_ascii=False)
    host_call(imports().cards.update_instance, out_track_id, json.dumps(params, ensure_ascii=False), private, by_key)


def stream_instance(out_track_id: str, key: str, content: str, full: bool = False, finalize: bool = False, failed: bool = False) -> None:
    """Stream ``content`` into variable ``key`` of an AI card instance."""
    flags = imports().cards.StreamMode
    mode = flags(0)
    for wanted, flag in ((full, flags.FULL), (finalize, flags.FINALIZE), (failed, flags.FAILED)):
        if wanted:
            mode |= flag
    host_call(imports().cards.stream_instance, out_track_id, key, content, mode)


@dataclass
class CardCallback:
    """The ``data`` of a card callback, the pressed action's ids and parameters
    lifted out (``plugin-sdk/conformance/card-callbacks.json``)."""

    #: The card instance's outTrackId.
    out_track_id: str = ""
    #: Who pressed.
    user_id: str = ""
    #: Their organisation.
    corp_id: str = ""
    #: e.g. ``actionCallback``.
    type: str = ""
    #: e.g. ``im``.
    space_type: str = ""
    #: The conversation.
    space_id: str = ""
    #: Ids of the components pressed.
    action_ids: list[str] = field(default_factory=list)
    #: Their parameters.
    params: dict[str, Any] = field(default_factory=dict)
    #: The ``extension`` JSON string, decoded (``{}`` when empty).
    extension: Any = field(default_factory=dict)
    #: Every other field, as sent.
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_data(cls, data: Any) -> "CardCallback":
        """Decode a callback's data (a JSON object); ``ValueError`` if it is not one
        or its ``content`` or ``extension`` is not JSON."""
        if not isinstance(data, dict):
            raise ValueError("a card callback is a JSON object")

        def text(key: str) -> str:
            value = data.get(key)
            return value if isinstance(value, str) else ""

        content = _json_field("content", data.get("content"))
        private = content.get("cardPrivateData") if isinstance(content, dict) else None
        private = private if isinstance(private, dict) else {}
        actions = private.get("actionIds")
        params = private.get("params")
        return cls(
            out_track_id=text("outTrackId"),
            user_id=text("userId"),
            corp_id=text("corpId"),
            type=text("type"),
            space_type=text("spaceType"),
            space_id=text("spaceId"),
            action_ids=[a for a in actions if isinstance(a, str)] if isinstance(actions, list) else [],
            params=params if isinstance(params, dict) else {},
            extension=_json_field("extension", data.get("extension")),
            extra={k: v for k, v in data.items() if k not in _KNOWN},
        )


_KNOWN = frozenset(["outTrackId", "userId", "corpId", "type", "spaceType", "spaceId", "content", "extension"])


def _json_field(name: str, value: Any) -> Any:
    """A field DingTalk sends as a JSON string (or already parsed); empty or missing is ``{}``."""
    if value is None:
        return {}
    if not isinstance(value, str):
        return value
    if value.strip() == "":
        return {}
    try:
        return json.loads(value)
    except ValueError as e:
        raise ValueError(f"card callback {name} is not JSON: {e}") from None


class CardUpdate:
    """The answer to a card callback (return it, or ``update.to_json()``, from the
    handler): new public card data and private data for the user who pressed. Every
    value is sent as a string, as DingTalk requires (non-strings as JSON)."""

    def __init__(self):
        self._card: dict[str, str] = {}
        self._private: dict[str, str] = {}

    def card_param(self, key: str, value: Any) -> "CardUpdate":
        """Set a public card variable."""
        self._card[key] = _text(value)
        return self

    def private_param(self, key: str, value: Any) -> "CardUpdate":
        """Set a variable only the pressing user sees."""
        self._private[key] = _text(value)
        return self

    def to_json(self) -> dict:
        """The JSON DingTalk expects in the ACK's ``response``."""
        return {
            "cardUpdateOptions": {"updateCardDataByKey": True, "updatePrivateDataByKey": True},
            "cardData": {"cardParamMap": dict(self._card)},
            "userPrivateData": {"cardParamMap": dict(self._private)},
        }


def _text(value: Any) -> str:
    """A JSON scalar as text, the way every SDK turns a parameter into a string."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
