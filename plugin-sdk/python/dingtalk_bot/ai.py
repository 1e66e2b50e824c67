"""AI assistants in a few lines, as in the Rust and TypeScript SDKs: an
OpenAI-compatible streaming chat client (``ChatClient``), an AI card that types the
answer out and always ends in a final state (``AiCard``), conversation memory in
key-value state (``Memory``), and ``answer``, which ties them together the way the
field taught (ai-assistant.md): the card is shown before the model is called; at
most one streaming update per interval, the newest text winning; one final update
with the whole answer; the whole answer as markdown if the card breaks; on a model
failure the failed state and one short text. Nothing is left "generating".

    @bot.on_message
    def chat(msg):
        memory = ai.Memory(msg, "sender", turns=10, ttl_ms=30 * 60_000)
        question = msg.text_content() or ""
        messages = [ai.Message.system("You are a helpful assistant."), *memory.load(), ai.Message.user(question)]
        client = ai.ChatClient("https://api.deepseek.com/v1", "deepseek-chat")
        text = ai.answer(msg, ai.AiCard.start(msg, ai.AI_CARD_TEMPLATE), client, messages)
        if text is not None:
            memory.remember(question, text)
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Optional

from . import cards, http, kv, log
from .answer import Answer, ModelError
from .errors import HostError
from .message import ChatbotMessage
from .reply import reply_markdown, reply_text
from .sse import SseParser

__all__ = [
    "AI_CARD_TEMPLATE",
    "AiCard",
    "Answer",
    "ChatClient",
    "ChatStream",
    "Memory",
    "Message",
    "ModelError",
    "Pacing",
    "answer",
]

#: DingTalk's AI markdown card template (protocol.md D.7).
AI_CARD_TEMPLATE = "382e4302-551d-4880-bf29-a30acfab2e71.schema"


@dataclass(frozen=True)
class Message:
    """One chat message: ``role`` is ``system``, ``user`` or ``assistant``."""

    role: str
    content: str

    @staticmethod
    def system(content: str) -> "Message":
        """A system prompt."""
        return Message("system", content)

    @staticmethod
    def user(content: str) -> "Message":
        """What the user said."""
        return Message("user", content)

    @staticmethod
    def assistant(content: str) -> "Message":
        """What the assistant answered."""
        return Message("assistant", content)


class ChatClient:
    """An OpenAI-compatible chat-completions client (OpenAI, DeepSeek, Qwen,
    Moonshot, Ollama, vLLM). The API key is not here: the host adds it
    (``http_headers`` with a secret), so the plugin never holds it."""

    def __init__(self, base_url: str, model: str, first_byte_timeout_ms: Optional[int] = None):
        self.base_url = base_url.rstrip("/")
        self.model = model
        #: At most this long for the first byte (the host's limit still applies).
        self.first_byte_timeout_ms = first_byte_timeout_ms

    def stream(self, messages: list[Message]) -> "ChatStream":
        """Start a streamed completion of ``messages``; ``ModelError`` if refused."""
        body = {"model": self.model, "stream": True, "messages": [asdict(m) for m in messages]}
        try:
            response = http.post(
                f"{self.base_url}/chat/completions",
                headers={"accept": "text/event-stream"},
                json=body,
                first_byte_timeout_ms=self.first_byte_timeout_ms,
            )
        except HostError as e:
            raise ModelError("timeout" if e.kind == "timeout" else "request", e.text) from None
        if response.status != 200:
            retry = (response.header("retry-after") or "").strip()
            try:
                text = response.text()
            except (HostError, UnicodeDecodeError):
                text = ""
            message = text[:200]
            try:
                error = json.loads(text).get("error")
                if isinstance(error, dict) and isinstance(error.get("message"), str):
                    message = error["message"]
            except (ValueError, AttributeError):
                pass  # not JSON: the start of the body says what happened
            raise ModelError("status", message, status=response.status, retry_after=int(retry) if retry.isdigit() else None)
        return ChatStream(response)


class ChatStream:
    """A completion being streamed; its text grows as ``poll`` reads."""

    def __init__(self, response: http.Response):
        self._response = response
        self._parser = SseParser()
        self._answer = Answer()

    @property
    def text(self) -> str:
        """The answer so far."""
        return self._answer.text

    def poll(self, wait_ms: int) -> str:
        """Read what arrives within ``wait_ms`` (all of it, when several events are
        already there): ``"grew"``, ``"idle"`` or ``"done"``. ``ModelError`` when the
        stream breaks."""
        if self._answer.done:
            return "done"
        grew = False
        wait = wait_ms
        while True:
            try:
                chunk = self._response.read_within(wait)
            except HostError as e:
                raise ModelError("broken", e.reason, partial=self.text) from None
            if chunk is None:
                return "grew" if grew else "idle"
            events = self._parser.finish() if chunk == b"" else self._parser.feed(chunk)
            for event in events:
                grew = self._answer.apply(event.data) or grew
                if self._answer.done:
                    return "done"
            if chunk == b"":
                raise ModelError("broken", "the stream ended without [DONE]", partial=self.text)
            wait = 0


def _now_ms() -> float:
    return time.monotonic() * 1000


class AiCard:
    """An AI card showing one answer as it is written."""

    def __init__(self, out_track_id: str, delivered: bool, broken: Optional[str] = None):
        #: The card's id (``outTrackId``).
        self.out_track_id = out_track_id
        #: Streaming updates sent so far.
        self.updates = 0
        self._delivered = delivered
        self._broken = broken
        self._streaming = False
        self._last_update: Optional[float] = None
        self._shown = ""

    @classmethod
    def start(cls, msg: ChatbotMessage, template_id: str) -> "AiCard":
        """Create the card in the message's conversation, "thinking", and show it.
        If DingTalk refuses, the card is broken and ``finish`` replies with markdown
        instead."""
        out_track_id = f"ai-{msg.msg_id}"
        params = {"flowStatus": "1", "msgContent": "", "staticMsgContent": ""}
        try:
            cards.create_and_deliver(cards.CardInstance(template_id, out_track_id, params))
            return cls(out_track_id, True)
        except HostError as e:
            return cls(out_track_id, False, _broke("create and deliver", e))

    @property
    def shown_text(self) -> str:
        """The text the card shows now."""
        return self._shown

    def is_live(self) -> bool:
        """Whether the card still works (the answer will be shown in it)."""
        return self._broken is None

    def next_update_in(self, interval_ms: int) -> int:
        """How long until an update may be sent, ``interval_ms`` after the last one."""
        if self._last_update is None:
            return 0
        return max(0, int(interval_ms - (_now_ms() - self._last_update)))

    def update(self, text: str) -> None:
        """Show ``text`` (the whole answer so far) if it changed; a failure breaks the card."""
        if not self.is_live() or text == self._shown:
            return
        try:
            if not self._streaming:
                cards.update_instance(self.out_track_id, {"msgContent": text, "staticMsgContent": "", "flowStatus": "2"})
                self._streaming = True
            cards.stream_instance(self.out_track_id, "msgContent", text, full=True)
            self._shown = text
            self.updates += 1
            self._last_update = _now_ms()
        except HostError as e:
            self._broken = _broke("streaming", e)

    def finish(self, msg: ChatbotMessage, answer: str) -> str:
        """Show the whole answer as final (``"card"``); if the card is broken, or
        breaks now, reply with it as markdown instead, once (``"markdown"``)."""
        if self.is_live():
            try:
                cards.stream_instance(self.out_track_id, "msgContent", answer, full=True, finalize=True)
                self.updates += 1
                cards.update_instance(self.out_track_id, {"msgContent": answer, "flowStatus": "3"})
                return "card"
            except HostError as e:
                self._broken = _broke("final update", e)
        self._mark_failed()
        reply_markdown(msg, _title(answer), answer)
        return "markdown"

    def fail(self, msg: ChatbotMessage, what_went_wrong: str) -> None:
        """The model failed: show the failed state and tell the user, in one short text."""
        if self.is_live():
            try:
                content = self._shown or what_went_wrong
                cards.stream_instance(self.out_track_id, "msgContent", content, full=True, finalize=True, failed=True)
            except HostError as e:
                self._broken = _broke("failed state", e)
        self._mark_failed()
        reply_text(msg, what_went_wrong)

    def _mark_failed(self) -> None:
        """Best effort: a card that was shown must not stay "generating"."""
        if not self._delivered:
            return
        try:
            cards.update_instance(self.out_track_id, {"flowStatus": "5"})
        except HostError:
            pass  # the card is already broken; the user gets the answer another way


def _broke(step: str, e: HostError) -> str:
    log.warn(f"AI card {step} failed, the answer will go as markdown: {e.reason}")
    return e.reason


def _title(answer: str) -> str:
    """A markdown reply's title (what notifications show): the answer's first words."""
    first = answer[:20]
    return first if first.strip() else "Answer"


@dataclass(frozen=True)
class Pacing:
    """How ``answer`` paces itself: the least time between two card updates, and when
    to give up on the model, from the start (keep it under the host's frame timeout
    so the plugin finishes the card)."""

    interval_ms: int = 300
    deadline_ms: int = 25_000


def answer(
    msg: ChatbotMessage, card: AiCard, client: ChatClient, messages: list[Message], pacing: Pacing = Pacing()
) -> Optional[str]:
    """Stream the model's answer to ``messages`` into ``card``, at most one update
    per interval; finish the card (or reply with markdown if it broke), or on a model
    failure show the failed state and tell the user. The whole answer when the model
    gave one, else ``None``."""
    started = _now_ms()

    def failed(e: ModelError) -> None:
        log.warn(f"model failed: {e}")
        card.fail(msg, f"Sorry, {e}.")

    try:
        stream = client.stream(messages)
    except ModelError as e:
        return failed(e)
    while True:
        left = int(pacing.deadline_ms - (_now_ms() - started))
        if left <= 0:
            return failed(ModelError("timeout", f"no complete answer within {pacing.deadline_ms} ms"))
        # Wait for more text, but not past the moment the card may show what is new.
        pending = card.is_live() and stream.text != card.shown_text
        wait = card.next_update_in(pacing.interval_ms) if pending else 1000
        try:
            progress = stream.poll(min(wait, left))
        except ModelError as e:
            return failed(e)
        if progress == "done":
            break
        if card.next_update_in(pacing.interval_ms) == 0:
            card.update(stream.text)
    card.finish(msg, stream.text)
    return stream.text


class Memory:
    """The last turns of a conversation, in key-value state, forgotten after a quiet
    while. ``scope`` says whose memory a group message belongs to: each
    ``"sender"``'s own, or the whole ``"conversation"``'s (1:1 chats are per
    conversation anyway)."""

    def __init__(self, msg: ChatbotMessage, scope: str, turns: int, ttl_ms: int):
        if scope not in ("sender", "conversation"):
            raise ValueError(f"memory scope {scope!r} is not 'sender' or 'conversation'")
        sender = msg.sender_staff_id or msg.sender_id
        grouped = msg.is_group() and scope == "sender"
        self.key = f"memory:{msg.conversation_id}:{sender}" if grouped else f"memory:{msg.conversation_id}"
        self._turns = turns
        self._ttl_ms = ttl_ms

    def load(self) -> list[Message]:
        """The remembered messages, oldest first."""
        return [Message(m["role"], m["content"]) for m in kv.get_json(self.key) or []]

    def remember(self, user: str, assistant: str) -> None:
        """Add one exchange, dropping the oldest past the limit."""
        keep = self._turns * 2

        def add(old):
            turns = [*(old or []), asdict(Message.user(user)), asdict(Message.assistant(assistant))]
            return turns[-keep:] if keep else []

        kv.update(self.key, add, self._ttl_ms)

    def clear(self) -> bool:
        """Forget everything; whether there was anything."""
        return kv.delete(self.key)
