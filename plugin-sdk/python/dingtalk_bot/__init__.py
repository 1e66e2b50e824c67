"""Write DingTalk bot plugins for dingtalk-wasm-host in Python.

The same names and shapes as the Rust SDK (`plugin-sdk/rust`): ``ChatbotMessage``,
``reply_text``/``reply_markdown`` and ``At``, ``kv``, ``config``, ``log``; the entry
point is a ``Plugin`` with decorated handlers (see ``dingtalk_bot.plugin``). Build with
``host build <project>``, which runs componentize-py against the host's WIT.
"""

from . import config, kv, log
from .errors import HostError, PluginError
from .message import AtUser, ChatbotMessage
from .plugin import CHATBOT_TOPIC, Later, Plugin
from .reply import At, markdown, reply_markdown, reply_text, text

__all__ = [
    "At",
    "AtUser",
    "CHATBOT_TOPIC",
    "ChatbotMessage",
    "HostError",
    "Later",
    "Plugin",
    "PluginError",
    "config",
    "kv",
    "log",
    "markdown",
    "reply_markdown",
    "reply_text",
    "text",
]
