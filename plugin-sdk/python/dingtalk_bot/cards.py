"""Interactive cards: StandardCards sent to the conversation of the message being
handled, card instances of advanced templates, and the card callbacks DingTalk pushes
when a user presses a button (the Rust and JavaScript SDKs' names, snake_case)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Optional

from ._wit import imports
from .errors import host_call

#: The topic of card callbacks (``@bot.on_callback(CARD_CALLBACK_TOPIC)``).
CARD_CALLBACK_TOPIC = "/v1.0/card/instances/callback"


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
    """The ``data`` of a card callback, its JSON-string fields decoded."""

    out_track_id: str
    user_id: str
    corp_id: str
    type: str
    space_type: str
    space_id: str
    action_ids: list[str]
    params: dict[str, Any]
    extension: Any
    raw: dict

    @classmethod
    def from_data(cls, data: dict) -> "CardCallback":
        def decoded(value):
            if isinstance(value, str):
                return json.loads(value) if value else {}
            return value or {}

        private = decoded(data.get("content")).get("cardPrivateData") or {}
        return cls(
            out_track_id=data.get("outTrackId", ""),
            user_id=data.get("userId", ""),
            corp_id=data.get("corpId", ""),
            type=data.get("type", ""),
            space_type=data.get("spaceType", ""),
            space_id=data.get("spaceId", ""),
            action_ids=list(private.get("actionIds") or []),
            params=dict(private.get("params") or {}),
            extension=decoded(data.get("extension")),
            raw=data,
        )


class CardUpdate:
    """The answer to a card callback (return ``update.to_json()`` from the handler):
    new public card data and private data for the user who pressed. Every value is
    sent as a string, as DingTalk requires."""

    def __init__(self):
        self._card: dict[str, str] = {}
        self._private: dict[str, str] = {}

    def card_param(self, key: str, value) -> "CardUpdate":
        self._card[key] = _text(value)
        return self

    def private_param(self, key: str, value) -> "CardUpdate":
        self._private[key] = _text(value)
        return self

    def to_json(self) -> dict:
        return {
            "cardUpdateOptions": {"updateCardDataByKey": True, "updatePrivateDataByKey": True},
            "cardData": {"cardParamMap": self._card},
            "userPrivateData": {"cardParamMap": self._private},
        }


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
