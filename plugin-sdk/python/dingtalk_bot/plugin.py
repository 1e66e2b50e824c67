"""The plugin entry point, the same shape in every SDK: one ``Plugin`` object, its
handlers registered on it (here by decorators), and the world componentize-py
exports made from it. The subscriptions ``describe`` reports are read off the
registrations, so a plugin cannot subscribe to a topic nothing handles.

    from dingtalk_bot import Plugin, reply_text

    bot = Plugin("echo", "0.1.0")

    @bot.on_message
    def echo(msg):
        reply_text(msg, msg.text_content() or "?")

    WitWorld = bot.export()    # what componentize-py looks for

``export`` also warms the plugin up: componentize-py snapshots the module after
importing it at build, so ``export`` first runs synthetic text messages (``hello``,
or the texts given to ``warm_up``) through the message handlers with every host
call refused. Their code paths are then already run in every fresh instance (the
interpreter's caches, lazily imported modules). Nothing reaches the network or
state; module state the handlers change is in the snapshot, so a handler that
keeps any should be given ``warm_up([])``.

Each frame runs in a fresh instance (or a warm one, when the operator chose so). Dispatch: an EVENT goes to ``on_event`` as an
``Event``; the chatbot (or delegate) topic to ``on_message`` (``on_delegate``) as a
decoded ``ChatbotMessage``; any other callback topic to its ``on_callback`` handler
as parsed JSON (an empty body is ``{}``); a frame nothing handles is done; data that
does not decode fails the frame as ``invalid-argument`` before any handler runs. A
handler's return value becomes the ACK: ``None`` is done, a ``dict`` or ``list`` (a
``CardUpdate.to_json()``, a callback's answer) is the JSON response, ``Later("why")``
(events) asks DingTalk to push it again. A raised ``HostError`` reaches the ACK as
its own case, any other exception as the ``plugin`` case with ``Name: message``
(``plugin-sdk/conformance/outcomes.json``).
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass
from typing import Any, Callable, Optional

from . import _wit
from ._wit import imports
from .errors import HostError
from .event import Event
from .frame import json_or_empty
from .message import ChatbotMessage

#: The topic of messages sent to the robot.
CHATBOT_TOPIC = "/v1.0/im/bot/messages/get"
#: The topic of messages a delegate ("hosted") robot receives.
DELEGATE_TOPIC = "/v1.0/im/bot/messages/delegate"


@dataclass(frozen=True)
class Later:
    """Ask DingTalk to push the event again later (events only)."""

    reason: str


class Plugin:
    """A plugin: its name, version and handlers."""

    def __init__(self, name: str, version: str):
        self.name = name
        self.version = version
        self._message: Optional[Callable[[ChatbotMessage], Any]] = None
        self._delegate: Optional[Callable[[ChatbotMessage], Any]] = None
        self._event: Optional[Callable[[Event], Any]] = None
        self._callbacks: dict[str, Callable[[Any], Any]] = {}
        self._tools: dict[str, tuple[str, str, Callable[[str, Any], str]]] = {}
        self._warm_up: list[str] = ["hello"]

    def warm_up(self, texts: list[str]) -> "Plugin":
        """The texts of the synthetic messages ``export`` runs through the message
        handlers at build (default ``["hello"]``; ``[]`` runs none)."""
        self._warm_up = list(texts)
        return self

    def warm(self) -> None:
        """Run the warm-up messages through the message handlers, every host call
        refused, every outcome dropped."""
        topics = [t for t, f in ((CHATBOT_TOPIC, self._message), (DELEGATE_TOPIC, self._delegate)) if f]
        _wit.warming(True)
        try:
            for text in self._warm_up:
                for topic in topics:
                    self.run("callback", topic, [], json.dumps(_synthetic(text)))
        finally:
            _wit.warming(False)

    def tool(self, name: str, description: str, parameters: dict) -> Callable:
        """Offer agents a tool: ``name`` (``^[a-z][a-z0-9_-]{0,47}$``), what it does
        for the model, its arguments' JSON Schema, and the decorated function
        ``f(args, conversation)``. When ``args`` is annotated with a dataclass, the
        arguments are decoded into it; otherwise it gets the ``dict``. Its result is
        sent as JSON; arguments that do not fit are refused as ``invalid-argument``."""

        def register(f: Callable[..., Any]) -> Callable:
            self._tools[name] = (description, json.dumps(parameters), _tool_runner(f))
            return f

        return register

    def call_tool(self, name: str, arguments: str, conversation: Any) -> str:
        """Run the tool ``name`` on ``arguments`` (JSON text); its JSON result."""
        tool = self._tools.get(name)
        if tool is None:
            raise HostError("invalid-argument", f"no tool {json.dumps(name)} here")
        return tool[2](arguments, conversation)

    def tool_specs(self) -> list[tuple[str, str, str]]:
        """The tools ``describe`` reports: ``(name, description, parameters)``."""
        return [(n, d, p) for n, (d, p, _) in self._tools.items()]

    def on_message(self, f: Callable[[ChatbotMessage], Any]) -> Callable:
        """Handle messages sent to the robot: ``f(msg: ChatbotMessage)``."""
        self._message = f
        return f

    def on_delegate(self, f: Callable[[ChatbotMessage], Any]) -> Callable:
        """Handle messages a delegate robot receives (a topic the operator must grant)."""
        self._delegate = f
        return f

    def on_event(self, f: Callable[[Event], Any]) -> Callable:
        """Handle every event chosen in the developer console (topic ``*``): ``f(event: Event)``."""
        self._event = f
        return f

    def on_callback(self, topic: str) -> Callable:
        """Handle another callback topic (card callbacks: ``cards.CALLBACK_TOPIC``),
        given its JSON data: ``f(data)``."""

        def register(f: Callable[[Any], Any]) -> Callable:
            self._callbacks[topic] = f
            return f

        return register

    def subscriptions(self) -> list[tuple[str, str]]:
        """The subscriptions ``describe`` reports: ``(kind, topic)`` pairs."""
        subs = []
        if self._message is not None:
            subs.append(("callback", CHATBOT_TOPIC))
        if self._delegate is not None:
            subs.append(("callback", DELEGATE_TOPIC))
        subs.extend(("callback", topic) for topic in self._callbacks)
        if self._event is not None:
            subs.append(("event", "*"))
        return subs

    def dispatch(self, kind: str, topic: str, headers, data: str) -> Any:
        """Run the handler a frame goes to; its result (``None`` when none does)."""
        if kind == "event":
            if self._event is None:
                return None
            return self._event(_decoded("malformed JSON", lambda: Event.from_frame(headers, data)))
        message = {CHATBOT_TOPIC: self._message, DELEGATE_TOPIC: self._delegate}.get(topic)
        if message is not None:
            return message(_decoded("malformed chatbot message", lambda: ChatbotMessage.from_json(data)))
        handler = self._callbacks.get(topic)
        return None if handler is None else handler(_decoded("malformed JSON", lambda: json_or_empty(data)))

    def run(self, kind: str, topic: str, headers, data: str) -> tuple[str, Any]:
        """Handle a frame: its outcome as ``(tag, value)``, or ``("error", (case,
        payload))`` for a failure; the form ``export`` turns into WIT values."""
        try:
            return outcome(self.dispatch(kind, topic, headers, data))
        except HostError as e:
            return "error", e.case()
        except Exception as e:  # the handler's own failure, reported as such
            return "error", ("plugin", f"{type(e).__name__}: {e}")

    def export(self) -> type:
        """The class componentize-py exports as the component's world, after the
        warm-up."""
        plugin = self
        self.warm()

        class WitWorld:
            def describe(self):
                types = imports().dingtalk_bot_types
                kinds = {"callback": types.FrameKind.CALLBACK, "event": types.FrameKind.EVENT}
                subs = [types.Subscription(kinds[k], t) for k, t in plugin.subscriptions()]
                tools = [types.ToolSpec(n, d, p) for n, d, p in plugin.tool_specs()]
                return types.Description(plugin.name, plugin.version, subs, tools)

            def call_tool(self, name, arguments, conversation):
                from ._wit import Err

                types = imports().dingtalk_bot_types
                try:
                    return plugin.call_tool(name, arguments, conversation)
                except HostError as e:
                    raise Err(e.to_wit(types)) from None
                except Exception as e:  # the tool's own failure, reported as such
                    raise Err(HostError("plugin", f"{type(e).__name__}: {e}").to_wit(types)) from None

            def handle(self, frame):
                from ._wit import Err

                types = imports().dingtalk_bot_types
                kind = "event" if frame.kind == types.FrameKind.EVENT else "callback"
                tag, value = plugin.run(kind, frame.topic, frame.headers, frame.data)
                if tag == "error":
                    raise Err(HostError.from_case(*value).to_wit(types))
                if tag == "done":
                    return types.Outcome_Done()
                if tag == "later":
                    return types.Outcome_Later(value)
                return types.Outcome_Response(value)

        return WitWorld


def _synthetic(text: str) -> dict:
    """A text message from nobody, with a webhook nothing can reach."""
    return {
        "msgtype": "text",
        "text": {"content": text},
        "msgId": "warm-up",
        "conversationId": "warm-up",
        "conversationType": "1",
        "senderId": "warm-up",
        "senderNick": "warm-up",
        "senderStaffId": "warm-up",
        "chatbotUserId": "warm-up",
        "robotCode": "warm-up",
        "createAt": 0,
        "isInAtList": True,
        "sessionWebhook": "https://warm-up.invalid/",
        "sessionWebhookExpiredTime": 0,
    }


def _tool_runner(f: Callable[..., Any]) -> Callable[[str, Any], str]:
    """``f`` as a function of the arguments' JSON text: decoded (into the dataclass
    its first parameter is annotated with, if any), run, its result as JSON."""
    params = list(typing.get_type_hints(f).items())
    first = next((t for n, t in params if n != "return"), None)
    into = first if dataclasses.is_dataclass(first) else None

    def run(arguments: str, conversation: Any) -> str:
        try:
            args = json.loads(arguments)
            if not isinstance(args, dict):
                raise ValueError("not a JSON object")
            if into is not None:
                args = into(**args)
        except (ValueError, TypeError) as e:
            raise HostError("invalid-argument", f"the arguments do not fit: {e}") from None
        result = f(args, conversation)
        if dataclasses.is_dataclass(result) and not isinstance(result, type):
            result = dataclasses.asdict(result)
        return json.dumps(result, ensure_ascii=False)

    return run


def _decoded(what: str, decode: Callable[[], Any]) -> Any:
    """A frame's data decoded, or the invalid-argument error every SDK fails it with."""
    try:
        return decode()
    except ValueError as e:  # json.JSONDecodeError is one
        raise HostError("invalid-argument", f"{what}: {e}") from None


def outcome(result: Any) -> tuple[str, Optional[str]]:
    """A handler's result as the WIT outcome: ``("done", None)``, ``("later",
    reason)`` or ``("response", json_text)``."""
    if result is None:
        return "done", None
    if isinstance(result, Later):
        return "later", result.reason
    if hasattr(result, "to_json"):
        result = result.to_json()
    return "response", json.dumps(result, ensure_ascii=False)
