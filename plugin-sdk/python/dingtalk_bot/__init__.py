"""Write DingTalk bot plugins for dingtalk-wasm-host in Python.

The same concepts and names as the Rust and TypeScript SDKs, in Python's case
(``plugin-sdk/CONCEPTS.md``): the entry point is a ``Plugin`` with decorated handlers
(``dingtalk_bot.plugin``); ``ChatbotMessage`` and ``Event`` are what they get;
``reply_text``/``reply_markdown`` and the other reply kinds answer; ``cards``,
``media``, ``messages``, ``openapi``, ``config``, ``log``, ``clock``, ``kv`` and
``http`` (with server-sent events) call the host; ``ai`` builds assistants. Host
calls raise ``HostError``. Build with ``host build <project>``, which runs
componentize-py against the host's WIT.
"""

from . import ai, cards, clock, config, http, kv, log, media, messages, openapi, tools
from .errors import DingtalkError, HostError, PluginError
from .event import Event
from .message import AtUser, ChatbotMessage
from .plugin import CHATBOT_TOPIC, DELEGATE_TOPIC, Later, Plugin
from .reply import (
    ActionButton,
    ActionCardContent,
    At,
    FeedLink,
    LinkContent,
    action_card,
    feed_card,
    link,
    markdown,
    reply_markdown,
    reply_text,
    text,
)
from .sse import SseEvent, SseParser

__all__ = [
    "ActionButton",
    "ActionCardContent",
    "At",
    "AtUser",
    "CHATBOT_TOPIC",
    "ChatbotMessage",
    "DELEGATE_TOPIC",
    "DingtalkError",
    "Event",
    "FeedLink",
    "HostError",
    "Later",
    "LinkContent",
    "Plugin",
    "PluginError",
    "SseEvent",
    "SseParser",
    "action_card",
    "ai",
    "cards",
    "clock",
    "config",
    "feed_card",
    "http",
    "kv",
    "link",
    "log",
    "markdown",
    "media",
    "messages",
    "openapi",
    "reply_markdown",
    "reply_text",
    "text",
]
