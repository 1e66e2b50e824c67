"""The plugin entry point: one object, its handlers registered by decorators.

    from dingtalk_bot import Plugin, reply_text

    bot = Plugin("echo", "0.1.0")

    @bot.on_message
    def echo(msg):
        reply_text(msg, msg.text_content() or "?")

    WitWorld = bot.export()    # what componentize-py looks for

Each frame runs in a fresh instance. A handler's return value becomes the ACK: ``None``
is done, a ``dict`` or ``list`` (callbacks) is the JSON response, ``Later("why")``
(events) asks DingTalk to push it again. An exception fails the frame with its text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable, Optional

from ._wit import imports
from .errors import HostError
from .message import ChatbotMessage

#: The topic of chatbot messages.
CHATBOT_TOPIC = "/v1.0/im/bot/messages/get"


@dataclass
class Later:
    """Ask DingTalk to push the event again later (events only)."""

    reason: str


class Plugin:
    """A plugin: its name, version and handlers."""

    def __init__(self, name: str, version: str):
        self.name = name
        self.version = version
        self._message: Optional[Callable] = None
        self._event: Optional[Callable] = None
        self._callbacks: dict[str, Callable] = {}

    def on_message(self, f: Callable[[ChatbotMessage], object]) -> Callable:
        """Handle chatbot messages: ``f(msg: ChatbotMessage)``."""
        self._message = f
        return f

    def on_event(self, f: Callable[[str, dict], object]) -> Callable:
        """Handle events (topic ``*``): ``f(event_type, data)``."""
        self._event = f
        return f

    def on_callback(self, topic: str) -> Callable:
        """Handle another callback topic (e.g. card callbacks): ``f(data: dict)``."""

        def register(f: Callable[[dict], object]) -> Callable:
            self._callbacks[topic] = f
            return f

        return register

    def _subscriptions(self):
        types = imports().dingtalk_bot_types
        subs = []
        if self._message is not None:
            subs.append(types.Subscription(types.FrameKind.CALLBACK, CHATBOT_TOPIC))
        for topic in self._callbacks:
            subs.append(types.Subscription(types.FrameKind.CALLBACK, topic))
        if self._event is not None:
            subs.append(types.Subscription(types.FrameKind.EVENT, "*"))
        return subs

    def _dispatch(self, frame):
        types = imports().dingtalk_bot_types
        if frame.kind == types.FrameKind.EVENT and self._event is not None:
            event_type = dict(frame.headers).get("eventType", "")
            return self._event(event_type, json.loads(frame.data or "{}"))
        if frame.topic == CHATBOT_TOPIC and self._message is not None:
            return self._message(ChatbotMessage.from_json(frame.data))
        handler = self._callbacks.get(frame.topic)
        if handler is not None:
            return handler(json.loads(frame.data or "{}"))
        return None

    def export(self) -> type:
        """The class componentize-py exports as the component's world."""
        plugin = self

        class WitWorld:
            def describe(self):
                types = imports().dingtalk_bot_types
                return types.Description(plugin.name, plugin.version, plugin._subscriptions())

            def handle(self, frame):
                from ._wit import Err

                types = imports().dingtalk_bot_types
                try:
                    result = plugin._dispatch(frame)
                except HostError as e:
                    raise Err(e.value) from None
                except Err:
                    raise
                except Exception as e:  # the handler's own failure, reported as such
                    raise Err(types.Error_Plugin(f"{type(e).__name__}: {e}")) from None
                if result is None:
                    return types.Outcome_Done()
                if isinstance(result, Later):
                    return types.Outcome_Later(result.reason)
                return types.Outcome_Response(json.dumps(result, ensure_ascii=False))

        return WitWorld
