"""Write DingTalk bot plugins for dingtalk-wasm-host in Python.

The same names and shapes as the Rust and JavaScript SDKs (`plugin-sdk/rust`,
`plugin-sdk/js`): ``ChatbotMessage``, ``reply_text``/``reply_markdown`` and ``At``,
``cards``, ``media``, ``kv``, ``http`` (outbound requests whose answers stream, with
server-sent events), ``config``, ``log``; the entry point is a ``Plugin`` with
decorated handlers (see ``dingtalk_bot.plugin``). Build with ``host build <project>``,
which runs componentize-py against the host's WIT.
"""

from . import cards, config, http, kv, log, media
from .errors import HostError, PluginError
from .message import AtUser, ChatbotMessage
from .plugin import CHATBOT_TOPIC, Later, Plugin
from .reply import At, markdown, reply_markdown, reply_text, text
from .sse import SseEvent, SseParser

__all__ = [
    "At",
    "AtUser",
    "CHATBOT_TOPIC",
    "ChatbotMessage",
    "HostError",
    "Later",
    "Plugin",
    "PluginError",
    "SseEvent",
    "SseParser",
    "cards",
    "config",
    "http",
    "kv",
    "log",
    "media",
    "markdown",
    "reply_markdown",
    "reply_text",
    "text",
]
