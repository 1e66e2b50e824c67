"""Events (EVENT frames, topic ``*``): the headers that identify them, and the body
(``plugin-sdk/conformance/events.json``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .frame import json_or_empty


@dataclass(frozen=True)
class Event:
    """One event, as DingTalk pushed it."""

    #: e.g. ``user_add_org``, ``chat_update_title``.
    event_type: str
    #: Unique id: the key for de-duplicating re-pushed events.
    event_id: str
    #: The organisation it happened in.
    corp_id: str
    #: When it happened, epoch milliseconds (0 when not sent).
    born_time: int
    #: The event body; its fields depend on ``event_type`` (an empty body is ``{}``).
    data: Any

    @classmethod
    def from_frame(cls, headers, data: str) -> "Event":
        """Read an event from an EVENT frame's headers (name/value pairs) and data."""
        found = {}
        for name, value in headers:
            found.setdefault(name, value)
        try:
            born = int(found.get("eventBornTime", "").strip())
        except ValueError:
            born = 0
        return cls(
            event_type=found.get("eventType", ""),
            event_id=found.get("eventId", ""),
            corp_id=found.get("eventCorpId", ""),
            born_time=born,
            data=json_or_empty(data),
        )
