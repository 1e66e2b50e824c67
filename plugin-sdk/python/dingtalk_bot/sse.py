"""Server-sent events, parsed as the bytes arrive: one behaviour in every SDK
(``plugin-sdk/conformance/sse.json``).

Lines end in CR, LF or CRLF (also split across chunks); ``data`` lines of one event
join with LF; comments (``:``) are skipped; a field without a colon has an empty
value; one leading space of a value is dropped; an event is dispatched at a blank
line, and one without data is not (nor does its type reach the next); the type
defaults to ``"message"``; the last id persists; ``finish`` dispatches an event whose
blank line never came.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from typing import Optional


@dataclass
class SseEvent:
    """One event: its type (``"message"`` unless named), data and the last id seen."""

    event: str
    data: str
    id: Optional[str] = None


class SseParser:
    """Feed it bytes or text (``feed``) as they arrive, take the finished events;
    ``finish`` when the stream ends."""

    def __init__(self):
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._buffer = ""
        self._data: list[str] = []
        self._event = ""
        self._id: Optional[str] = None
        self._last_was_cr = False

    def feed(self, chunk: bytes | str) -> list[SseEvent]:
        text = chunk if isinstance(chunk, str) else self._decoder.decode(chunk)
        if self._last_was_cr and text.startswith("\n"):
            text = text[1:]
        self._last_was_cr = False
        self._buffer += text
        out = []
        while True:
            ends = [i for i in (self._buffer.find("\r"), self._buffer.find("\n")) if i >= 0]
            if not ends:
                break
            end = min(ends)
            line = self._buffer[:end]
            nxt = end + 1
            if self._buffer[end] == "\r":
                if end + 1 == len(self._buffer):
                    self._last_was_cr = True
                elif self._buffer[end + 1] == "\n":
                    nxt += 1
            self._buffer = self._buffer[nxt:]
            event = self._line(line)
            if event is not None:
                out.append(event)
        return out

    def finish(self) -> list[SseEvent]:
        """The events still pending when the stream ends without a blank line."""
        return self.feed(self._decoder.decode(b"", final=True) + "\n\n")

    def _line(self, line: str) -> Optional[SseEvent]:
        if line == "":
            if not self._data:
                self._event = ""
                return None
            event = SseEvent(self._event or "message", "\n".join(self._data), self._id)
            self._data = []
            self._event = ""
            return event
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        elif field == "id" and "\0" not in value:
            self._id = value
        return None
