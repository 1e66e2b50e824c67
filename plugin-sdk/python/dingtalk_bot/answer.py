"""What an OpenAI-compatible chat-completion stream spells out, and why a model gave
no (whole) answer: pure, so the shared vectors (``chat-stream.json``) test it with
plain Python. ``ai`` builds on it."""

from __future__ import annotations

import json
from typing import Optional


class ModelError(Exception):
    """How a model failed: ``kind`` ``status`` (an error answer), ``timeout``,
    ``broken`` (the stream ended or broke before ``[DONE]``; ``partial`` keeps what
    arrived) or ``request`` (refused by the host, network). ``str(e)`` is one short
    sentence for the user, the same as the other SDKs'."""

    def __init__(
        self,
        kind: str,
        reason: str,
        status: Optional[int] = None,
        retry_after: Optional[int] = None,
        partial: Optional[str] = None,
    ):
        self.kind = kind
        #: The server's message, what timed out, or why the stream broke.
        self.reason = reason
        self.status = status
        self.retry_after = retry_after
        self.partial = partial
        super().__init__(_sentence(kind, reason, status, retry_after))


def _sentence(kind: str, reason: str, status: Optional[int], retry_after: Optional[int]) -> str:
    if kind == "status":
        if status == 401:
            return "the model service refused the API key (401)"
        if status == 429:
            if retry_after is None:
                return "the model service is busy (429); try again shortly"
            return f"the model service is busy (429); try again in {retry_after} s"
        if (status or 0) >= 500:
            return f"the model service failed ({status}): {reason}"
        return f"the model service refused the request ({status}): {reason}"
    if kind == "timeout":
        return f"the model service did not answer in time ({reason})"
    if kind == "broken":
        return f"the model's answer broke off ({reason})"
    return f"the model service could not be reached ({reason})"


class Answer:
    """The answer a stream's events spell out."""

    def __init__(self):
        #: The answer so far.
        self.text = ""
        #: Whether ``[DONE]`` arrived.
        self.done = False

    def apply(self, data: str) -> bool:
        """Apply one event's data; whether the text grew. Raises ``ModelError``
        (``broken``) on an error event or data that is not JSON."""
        if data.strip() == "[DONE]":
            self.done = True
            return False
        try:
            event = json.loads(data)
        except ValueError as e:
            raise ModelError("broken", f"an event is not JSON: {e}", partial=self.text) from None
        error = event.get("error") if isinstance(event, dict) else None
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            raise ModelError("broken", error["message"], partial=self.text)
        # `reasoning_content` (thinking models) is not the answer; `content` may be absent or null.
        piece = None
        choices = event.get("choices") if isinstance(event, dict) else None
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            delta = choices[0].get("delta")
            if isinstance(delta, dict):
                piece = delta.get("content")
        if isinstance(piece, str) and piece:
            self.text += piece
            return True
        return False
