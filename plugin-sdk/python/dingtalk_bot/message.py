"""A chatbot message as DingTalk pushes it (protocol.md C.2), decoded once.

Every documented field has an attribute (snake_case); fields DingTalk adds later
stay in ``extra``. The same shape as the Rust SDK's ``ChatbotMessage``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Optional


@dataclass
class AtUser:
    """Someone the message @-mentions."""

    dingtalk_id: str
    staff_id: Optional[str] = None


@dataclass
class ChatbotMessage:
    """One message sent to the robot."""

    msgtype: str
    msg_id: str
    create_at: int
    conversation_type: str
    conversation_id: str
    sender_id: str
    sender_nick: str
    session_webhook: str
    session_webhook_expired_time: int
    chatbot_user_id: str
    robot_code: str
    text: Optional[str] = None
    content: Any = None
    conversation_title: Optional[str] = None
    sender_staff_id: Optional[str] = None
    sender_corp_id: Optional[str] = None
    sender_platform: Optional[str] = None
    is_admin: Optional[bool] = None
    is_in_at_list: Optional[bool] = None
    at_users: list[AtUser] = field(default_factory=list)
    chatbot_corp_id: Optional[str] = None
    open_thread_id: Optional[str] = None
    hosting_context: Optional[dict] = None
    conversation_msg_context: list[dict] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    _FIELDS = {
        "msgtype": "msgtype",
        "msgId": "msg_id",
        "createAt": "create_at",
        "conversationType": "conversation_type",
        "conversationId": "conversation_id",
        "senderId": "sender_id",
        "senderNick": "sender_nick",
        "sessionWebhook": "session_webhook",
        "sessionWebhookExpiredTime": "session_webhook_expired_time",
        "chatbotUserId": "chatbot_user_id",
        "robotCode": "robot_code",
        "content": "content",
        "conversationTitle": "conversation_title",
        "senderStaffId": "sender_staff_id",
        "senderCorpId": "sender_corp_id",
        "senderPlatform": "sender_platform",
        "isAdmin": "is_admin",
        "isInAtList": "is_in_at_list",
        "chatbotCorpId": "chatbot_corp_id",
        "openThreadId": "open_thread_id",
        "hostingContext": "hosting_context",
        "conversationMsgContext": "conversation_msg_context",
    }

    @classmethod
    def from_json(cls, data: str | dict) -> "ChatbotMessage":
        """Decode a frame's ``data`` (text or already parsed)."""
        raw = json.loads(data) if isinstance(data, str) else dict(data)
        if not isinstance(raw, dict):
            raise ValueError("a chatbot message is a JSON object")
        values: dict[str, Any] = {}
        extra = {}
        for key, value in raw.items():
            if key in cls._FIELDS:
                values[cls._FIELDS[key]] = value
            elif key == "text":
                values["text"] = (value or {}).get("content")
            elif key == "atUsers":
                values["at_users"] = [
                    AtUser(u.get("dingtalkId", ""), u.get("staffId")) for u in value or []
                ]
            else:
                extra[key] = value
        for required in ("msgtype", "session_webhook"):
            if required not in values:
                raise ValueError(f"a chatbot message needs {required}")
        defaults = {
            "msg_id": "",
            "create_at": 0,
            "conversation_type": "1",
            "conversation_id": "",
            "sender_id": "",
            "sender_nick": "",
            "session_webhook_expired_time": 0,
            "chatbot_user_id": "",
            "robot_code": "",
        }
        for name, default in defaults.items():
            values.setdefault(name, default)
        return cls(**values, extra=extra)

    def text_content(self) -> Optional[str]:
        """The text of a text message, trimmed; ``None`` for other message types."""
        if self.msgtype != "text" or self.text is None:
            return None
        return self.text.strip()

    def is_group(self) -> bool:
        """Whether it was sent in a group (else a 1:1 chat)."""
        return self.conversation_type == "2"
