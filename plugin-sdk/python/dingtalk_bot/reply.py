"""Replies through the session webhook of the message being answered.

The host sends the request to the webhook of the frame being handled (a plugin
cannot name another), and only before it expires. Every function takes the message
it answers, so a call reads as what it does; the host needs nothing of it but the
frame it already has.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ._wit import imports
from .errors import host_call
from .message import ChatbotMessage


@dataclass
class At:
    """Whom a reply mentions."""

    user_ids: list[str] = field(default_factory=list)
    mobiles: list[str] = field(default_factory=list)
    all: bool = False

    @staticmethod
    def nobody() -> "At":
        return At()

    @staticmethod
    def users(ids) -> "At":
        return At(user_ids=list(ids))

    @staticmethod
    def sender(msg: ChatbotMessage) -> "At":
        """The sender of ``msg`` (when DingTalk told us their staff id)."""
        return At.users([msg.sender_staff_id] if msg.sender_staff_id else [])

    @staticmethod
    def everyone() -> "At":
        return At(all=True)

    def _wit(self):
        return imports().reply.At(user_ids=self.user_ids, mobiles=self.mobiles, all=self.all)


def text(msg: ChatbotMessage, content: str, at: At) -> None:
    """Reply ``content`` as text, mentioning ``at``."""
    host_call(imports().reply.text, content, at._wit())


def markdown(msg: ChatbotMessage, title: str, markdown_text: str, at: At) -> None:
    """Reply markdown (``title`` shows in notifications), mentioning ``at``."""
    host_call(imports().reply.markdown, title, markdown_text, at._wit())


def reply_text(msg: ChatbotMessage, content: str) -> None:
    """Reply ``content`` as text to ``msg``'s conversation, mentioning its sender."""
    text(msg, content, At.sender(msg))


def reply_markdown(msg: ChatbotMessage, title: str, markdown_text: str) -> None:
    """Reply markdown to ``msg``'s conversation, mentioning its sender."""
    markdown(msg, title, markdown_text, At.sender(msg))
