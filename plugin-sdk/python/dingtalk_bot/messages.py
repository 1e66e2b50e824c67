"""Proactive robot messages (needs the operator's ``proactive = true`` grant)."""

from __future__ import annotations

import json
from typing import Any

from ._wit import imports
from .errors import host_call


def send_to_users(user_ids: list[str], msg_key: str, msg_param: Any) -> str:
    """Send ``msg_key`` (e.g. ``sampleText``) with ``msg_param`` to users 1:1; the
    processQueryKey."""
    return host_call(imports().messages.send_to_users, list(user_ids), msg_key, json.dumps(msg_param, ensure_ascii=False))


def send_to_group(open_conversation_id: str, msg_key: str, msg_param: Any) -> str:
    """Send to a group by its openConversationId; the processQueryKey."""
    return host_call(
        imports().messages.send_to_group, open_conversation_id, msg_key, json.dumps(msg_param, ensure_ascii=False)
    )
