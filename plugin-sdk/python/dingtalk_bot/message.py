"""A chatbot message as DingTalk pushes it (protocol.md C.2), decoded once.

Every field of ``plugin-sdk/conformance/message-schema.json`` is an attribute, its
JSON key in snake_case (``msgId`` is ``msg_id``); fields DingTalk adds later stay in
``extra``, as sent. A null is an absent value. The same fields, defaults and
``body()`` as the Rust and TypeScript SDKs, held to the shared vectors
(``messages.json``). A payload that is not an object, has no string ``msgtype``, or
holds a field of the wrong type is refused with ``ValueError``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Optional, Union


@dataclass(frozen=True)
class AtUser:
    """Someone the message @-mentions."""

    dingtalk_id: str
    staff_id: Optional[str] = None


@dataclass(frozen=True)
class HostingContext:
    """Whom a delegate robot acts for."""

    user_id: str
    nick: str


@dataclass(frozen=True)
class ConversationMsg:
    """One recent message of a delegate conversation."""

    read_status: str
    sender_user_id: str
    send_time: int


@dataclass(frozen=True)
class RichTextItem:
    """One item of a rich-text message: ``kind`` ``"text"`` (with ``text``) or
    ``"picture"`` (with ``download_code``)."""

    kind: str
    text: Optional[str] = None
    download_code: Optional[str] = None


@dataclass(frozen=True)
class TextBody:
    text: str
    kind = "text"


@dataclass(frozen=True)
class PictureBody:
    download_code: str
    kind = "picture"


@dataclass(frozen=True)
class RichTextBody:
    items: list[RichTextItem]
    kind = "richText"


@dataclass(frozen=True)
class AudioBody:
    download_code: str
    duration: Optional[int] = None
    recognition: Optional[str] = None
    kind = "audio"


@dataclass(frozen=True)
class VideoBody:
    download_code: str
    duration: Optional[int] = None
    video_type: Optional[str] = None
    kind = "video"


@dataclass(frozen=True)
class FileBody:
    download_code: str
    file_name: str
    file_id: Optional[str] = None
    space_id: Optional[str] = None
    kind = "file"


@dataclass(frozen=True)
class OtherBody:
    """A message type this SDK does not know yet, its content raw."""

    msgtype: str
    content: Any = None
    kind = "other"


#: The body of a message, typed by ``msgtype`` (each has a ``kind``).
MessageBody = Union[TextBody, PictureBody, RichTextBody, AudioBody, VideoBody, FileBody, OtherBody]


def _str(raw: dict, key: str) -> Optional[str]:
    v = raw.get(key)
    if v is None:
        return None
    if not isinstance(v, str):
        raise ValueError(f"chatbot message {key} is not a string")
    return v


def _bool(raw: dict, key: str) -> Optional[bool]:
    v = raw.get(key)
    if v is None:
        return None
    if not isinstance(v, bool):
        raise ValueError(f"chatbot message {key} is not a boolean")
    return v


def _number(v: Any) -> Optional[int]:
    """An integer, or (as DingTalk documents some) a string of one."""
    if isinstance(v, str) and v.strip():
        try:
            return int(v.strip())
        except ValueError:
            return None
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return None


def _millis(v: Any, key: str) -> int:
    if v is None:
        return 0
    n = _number(v)
    if n is None:
        raise ValueError(f"chatbot message {key} is not a number")
    return n


def _maybe_str(v: Any) -> Optional[str]:
    return v if isinstance(v, str) else None


def _objects(v: Any) -> list[dict]:
    return [item for item in v if isinstance(item, dict)] if isinstance(v, list) else []


_KNOWN = frozenset(
    """msgtype msgId createAt conversationType conversationId conversationTitle senderId
    senderNick senderStaffId senderCorpId senderPlatform sessionWebhook
    sessionWebhookExpiredTime isAdmin isInAtList atUsers chatbotUserId chatbotCorpId
    robotCode openThreadId text content hostingContext conversationMsgContext""".split()
)


@dataclass
class ChatbotMessage:
    """One message sent to the robot."""

    #: ``text``, ``picture``, ``richText``, ``audio``, ``video``, ``file``, or something newer.
    msgtype: str
    #: Unique message id: the key for de-duplicating re-pushed messages.
    msg_id: str = ""
    #: When it was sent, epoch milliseconds.
    create_at: int = 0
    #: ``"1"``: a 1:1 chat; ``"2"``: a group.
    conversation_type: str = ""
    #: The conversation; for groups, its openConversationId.
    conversation_id: str = ""
    #: The group's name (groups only).
    conversation_title: Optional[str] = None
    #: The sender, encrypted (``$:LWCP_v1:$…``).
    sender_id: str = ""
    #: The sender's display name.
    sender_nick: str = ""
    #: The sender's userId in the organisation (internal users only).
    sender_staff_id: Optional[str] = None
    #: The sender's organisation.
    sender_corp_id: Optional[str] = None
    #: ``Mac``, ``Win``, … as observed.
    sender_platform: Optional[str] = None
    #: Where replies to this message go.
    session_webhook: str = ""
    #: Epoch milliseconds after which the session webhook is refused.
    session_webhook_expired_time: int = 0
    #: Whether the sender is an admin.
    is_admin: Optional[bool] = None
    #: Whether the robot was @-mentioned (groups).
    is_in_at_list: Optional[bool] = None
    #: Users mentioned in the message (groups).
    at_users: list[AtUser] = field(default_factory=list)
    #: The robot's own user id.
    chatbot_user_id: str = ""
    #: The robot's organisation.
    chatbot_corp_id: Optional[str] = None
    #: The robot's code; the app's client id for internal apps.
    robot_code: str = ""
    #: The thread; equals the conversation id in 1:1 chats.
    open_thread_id: Optional[str] = None
    #: The text of a text message (``text.content``), as sent (see ``text_content()``).
    text: Optional[str] = None
    #: The content of picture, richText, file, audio and video messages, raw.
    content: Any = None
    #: Whom a delegate robot acts for (delegate topic).
    hosting_context: Optional[HostingContext] = None
    #: Recent messages of the conversation (delegate topic).
    conversation_msg_context: list[ConversationMsg] = field(default_factory=list)
    #: Fields this SDK does not know yet, as sent.
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: str | dict) -> "ChatbotMessage":
        """Decode a frame's ``data`` (text or already parsed)."""
        raw = json.loads(data) if isinstance(data, str) else data
        if not isinstance(raw, dict):
            raise ValueError("a chatbot message is a JSON object")
        msgtype = _str(raw, "msgtype")
        if msgtype is None:
            raise ValueError("a chatbot message needs a msgtype")
        text = raw.get("text")
        hosting = raw.get("hostingContext")
        return cls(
            msgtype=msgtype,
            msg_id=_str(raw, "msgId") or "",
            create_at=_millis(raw.get("createAt"), "createAt"),
            conversation_type=_str(raw, "conversationType") or "",
            conversation_id=_str(raw, "conversationId") or "",
            conversation_title=_str(raw, "conversationTitle"),
            sender_id=_str(raw, "senderId") or "",
            sender_nick=_str(raw, "senderNick") or "",
            sender_staff_id=_str(raw, "senderStaffId"),
            sender_corp_id=_str(raw, "senderCorpId"),
            sender_platform=_str(raw, "senderPlatform"),
            session_webhook=_str(raw, "sessionWebhook") or "",
            session_webhook_expired_time=_millis(raw.get("sessionWebhookExpiredTime"), "sessionWebhookExpiredTime"),
            is_admin=_bool(raw, "isAdmin"),
            is_in_at_list=_bool(raw, "isInAtList"),
            at_users=[
                AtUser(_maybe_str(u.get("dingtalkId")) or "", _maybe_str(u.get("staffId")))
                for u in _objects(raw.get("atUsers"))
            ],
            chatbot_user_id=_str(raw, "chatbotUserId") or "",
            chatbot_corp_id=_str(raw, "chatbotCorpId"),
            robot_code=_str(raw, "robotCode") or "",
            open_thread_id=_str(raw, "openThreadId"),
            text=_maybe_str(text.get("content")) if isinstance(text, dict) else None,
            content=raw.get("content"),
            hosting_context=(
                HostingContext(_maybe_str(hosting.get("userId")) or "", _maybe_str(hosting.get("nick")) or "")
                if isinstance(hosting, dict)
                else None
            ),
            conversation_msg_context=[
                ConversationMsg(
                    _maybe_str(c.get("readStatus")) or "",
                    _maybe_str(c.get("senderUserId")) or "",
                    _millis(c.get("sendTime"), "conversationMsgContext.sendTime"),
                )
                for c in _objects(raw.get("conversationMsgContext"))
            ],
            extra={k: v for k, v in raw.items() if k not in _KNOWN},
        )

    def text_content(self) -> Optional[str]:
        """The text of a text message, trimmed; ``None`` for other message types."""
        if self.msgtype != "text" or self.text is None:
            return None
        return self.text.strip()

    def is_group(self) -> bool:
        """Whether it was sent in a group (else a 1:1 chat)."""
        return self.conversation_type == "2"

    def body(self) -> MessageBody:
        """The body, typed by ``msgtype``."""
        c = self.content if isinstance(self.content, dict) else {}
        code = _maybe_str(c.get("downloadCode")) or ""
        if self.msgtype == "text":
            return TextBody(self.text_content() or "")
        if self.msgtype == "picture":
            return PictureBody(code)
        if self.msgtype == "richText":
            items = []
            for item in _objects(c.get("richText")):
                if isinstance(item.get("text"), str):
                    items.append(RichTextItem("text", text=item["text"]))
                elif isinstance(item.get("downloadCode"), str):
                    items.append(RichTextItem("picture", download_code=item["downloadCode"]))
            return RichTextBody(items)
        if self.msgtype == "audio":
            return AudioBody(code, _number(c.get("duration")), _maybe_str(c.get("recognition")))
        if self.msgtype == "video":
            return VideoBody(code, _number(c.get("duration")), _maybe_str(c.get("videoType")))
        if self.msgtype == "file":
            return FileBody(
                code, _maybe_str(c.get("fileName")) or "", _maybe_str(c.get("fileId")), _maybe_str(c.get("spaceId"))
            )
        return OtherBody(self.msgtype, self.content)
