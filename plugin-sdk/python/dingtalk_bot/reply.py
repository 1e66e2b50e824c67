"""Replies through the session webhook of the message being answered.

The host sends the request to the webhook of the frame being handled (a plugin
cannot name another), and only before it expires. Every function takes the message
it answers, so a call reads as what it does; the host needs nothing of it but the
frame it already has.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ._wit import imports
from .errors import host_call
from .message import ChatbotMessage


@dataclass(frozen=True)
class ActionButton:
    """A button of an action card."""

    title: str
    action_url: str


@dataclass(frozen=True)
class ActionCardContent:
    """A markdown card with one full-width button (``single``) or several
    (``buttons``, stacked when ``vertical``)."""

    title: str
    text: str
    single: Optional[ActionButton] = None
    buttons: list[ActionButton] = field(default_factory=list)
    vertical: bool = False


@dataclass(frozen=True)
class LinkContent:
    """A link preview."""

    title: str
    text: str
    message_url: str
    pic_url: str = ""


@dataclass(frozen=True)
class FeedLink:
    """One entry of a feed card."""

    title: str
    message_url: str
    pic_url: str = ""


@dataclass
class At:
    """Whom a reply mentions."""

    user_ids: list[str] = field(default_factory=list)
    mobiles: list[str] = field(default_factory=list)
    all: bool = False

    @staticmethod
    def nobody() -> "At":
        """Nobody."""
        return At()

    @staticmethod
    def users(ids) -> "At":
        """These users (their staff ids)."""
        return At(user_ids=list(ids))

    @staticmethod
    def sender(msg: ChatbotMessage) -> "At":
        """The sender of ``msg`` (when DingTalk told us their staff id)."""
        return At.users([msg.sender_staff_id] if msg.sender_staff_id else [])

    @staticmethod
    def everyone() -> "At":
        """Everyone in the group."""
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


def action_card(msg: ChatbotMessage, card: ActionCardContent) -> None:
    """Reply an action card (one full-width button, or several)."""
    r = imports().reply

    def button(b: ActionButton):
        return r.ActionButton(b.title, b.action_url)

    single = None if card.single is None else button(card.single)
    content = r.ActionCardContent(card.title, card.text, single, [button(b) for b in card.buttons], card.vertical)
    host_call(r.action_card, content)


def link(msg: ChatbotMessage, content: LinkContent) -> None:
    """Reply a link preview."""
    r = imports().reply
    host_call(r.link, r.LinkContent(content.title, content.text, content.message_url, content.pic_url))


def feed_card(msg: ChatbotMessage, links: list[FeedLink]) -> None:
    """Reply a feed card."""
    r = imports().reply
    host_call(r.feed_card, [r.FeedLink(x.title, x.message_url, x.pic_url) for x in links])
