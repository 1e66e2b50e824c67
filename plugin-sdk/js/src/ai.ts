/**
 * AI assistants in a few lines, as in the Rust and Python SDKs: an OpenAI-compatible
 * streaming chat client (`ChatClient`), an AI card that types the answer out and
 * always ends in a final state (`AiCard`), conversation memory in key-value state
 * (`Memory`), and `answer`, which ties them together the way the field taught
 * (ai-assistant.md): the card is shown before the model is called; at most one
 * streaming update per interval, the newest text winning; one final update with the
 * whole answer; the whole answer as markdown if the card breaks; on a model failure
 * the failed state and one short text. Nothing is left "generating".
 *
 * ```ts
 * bot.onMessage(async (msg) => {
 *   const memory = new Memory(msg, "sender", 10, 30 * 60_000);
 *   const messages = [Message.system("You are a helpful assistant."), ...memory.load(), Message.user(msg.textContent() ?? "")];
 *   const client = new ChatClient("https://api.deepseek.com/v1", "deepseek-chat");
 *   const text = await answer(msg, AiCard.start(msg, AI_CARD_TEMPLATE), client, messages);
 *   if (text !== undefined) memory.remember(msg.textContent() ?? "", text);
 * });
 * ```
 */

import { Answer, ModelError, type ToolCall } from "./answer.js";
import * as cards from "./cards.js";
import { HostError } from "./errors.js";
import * as kv from "./kv.js";
import * as log from "./log.js";
import type { ChatbotMessage } from "./message.js";
import { replyMarkdown, replyText } from "./reply.js";
import { SseParser } from "./sse.js";

export { Answer, ModelError, type ToolCall } from "./answer.js";

/** DingTalk's AI markdown card template (protocol.md D.7). */
export const AI_CARD_TEMPLATE = "382e4302-551d-4880-bf29-a30acfab2e71.schema";

/** One chat message. */
export class Message {
  constructor(
    /** `system`, `user` or `assistant`. */
    readonly role: string,
    readonly content: string,
  ) {}

  /** A system prompt. */
  static system(content: string): Message {
    return new Message("system", content);
  }

  /** What the user said. */
  static user(content: string): Message {
    return new Message("user", content);
  }

  /** What the assistant answered. */
  static assistant(content: string): Message {
    return new Message("assistant", content);
  }
}

/**
 * An OpenAI-compatible chat-completions client (OpenAI, DeepSeek, Qwen, Moonshot,
 * Ollama, vLLM). The API key is not here: the host adds it (`http_headers` with a
 * secret), so the plugin never holds it.
 */
export class ChatClient {
  readonly baseUrl: string;

  constructor(
    baseUrl: string,
    readonly model: string,
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
  }

  /** Start a streamed completion of `messages`. */
  stream(messages: Message[]): Promise<ChatStream> {
    return this.streamBody({ model: this.model, stream: true, messages });
  }

  /** Start a streamed completion of `messages` (OpenAI's shape, tool turns included)
   * offering `tools` (OpenAI's `tools` entries), asking for usage in the stream and
   * for parallel calls. */
  streamWithTools(messages: object[], tools: object[]): Promise<ChatStream> {
    const body: Record<string, unknown> = {
      model: this.model,
      stream: true,
      stream_options: { include_usage: true },
      messages,
    };
    if (tools.length > 0) {
      body.tools = tools;
      body.parallel_tool_calls = true;
    }
    return this.streamBody(body);
  }

  private async streamBody(body: object): Promise<ChatStream> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "text/event-stream" },
        body: JSON.stringify(body),
      });
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new ModelError(/timed? ?out/i.test(why) ? "timeout" : "request", why);
    }
    if (response.status !== 200) {
      const retry = Number.parseInt(response.headers.get("retry-after") ?? "", 10);
      const text = await response.text().catch(() => "");
      let message = [...text].slice(0, 200).join("");
      try {
        const parsed = JSON.parse(text);
        if (typeof parsed?.error?.message === "string") message = parsed.error.message;
      } catch {
        // not JSON: the start of the body says what happened
      }
      throw new ModelError("status", message, {
        status: response.status,
        retryAfter: Number.isFinite(retry) ? retry : undefined,
      });
    }
    if (!response.body) throw new ModelError("broken", "the answer has no body", { partial: "" });
    return new ChatStream(response.body.getReader());
  }
}

/** What `ChatStream.poll` saw. */
export type Progress = "grew" | "idle" | "done";

const IDLE = Symbol("idle");

/** A completion being streamed; its text grows as `poll` reads. */
export class ChatStream {
  private answer = new Answer();
  private parser = new SseParser();
  private pending?: Promise<ReadableStreamReadResult<Uint8Array>>;

  constructor(private reader: ReadableStreamDefaultReader<Uint8Array>) {}

  /** The answer so far. */
  get text(): string {
    return this.answer.text;
  }

  /** The reasoning so far (`reasoning_content`), `undefined` if the server sent none. */
  get reasoning(): string | undefined {
    return this.answer.reasoning;
  }

  /** The tool calls the model asked for, in order (complete once the stream is). */
  get toolCalls(): ToolCall[] {
    return this.answer.calls;
  }

  /** The tokens the stream reported using (`usage.total_tokens`), if it did. */
  get usage(): number | undefined {
    return this.answer.usage;
  }

  /** Read what arrives within `waitMs` (all of it, when several events are already
   * there), and say whether the answer grew, stayed, or is complete. */
  async poll(waitMs: number): Promise<Progress> {
    if (this.answer.done) return "done";
    let grew = false;
    let wait = waitMs;
    for (;;) {
      this.pending ??= this.reader.read();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const idle = new Promise<typeof IDLE>((resolve) => (timer = setTimeout(() => resolve(IDLE), wait)));
      let read: ReadableStreamReadResult<Uint8Array> | typeof IDLE;
      try {
        read = await Promise.race([this.pending, idle]);
      } catch (e) {
        throw new ModelError("broken", e instanceof Error ? e.message : String(e), { partial: this.text });
      } finally {
        clearTimeout(timer);
      }
      if (read === IDLE) return grew ? "grew" : "idle";
      this.pending = undefined;
      const events = read.done ? this.parser.finish() : this.parser.feed(read.value);
      for (const event of events) {
        grew = this.answer.apply(event.data) || grew;
        if (this.answer.done) return "done";
      }
      if (read.done) throw new ModelError("broken", "the stream ended without [DONE]", { partial: this.text });
      wait = 0;
    }
  }
}

/** How an AI card was delivered. */
export type Delivered = "card" | "markdown";

/** An AI card showing one answer as it is written. */
export class AiCard {
  private broken?: string;
  private streaming = false;
  private lastUpdate?: number;
  private shown = "";
  /** Streaming updates sent so far. */
  updates = 0;

  private constructor(
    /** The card's id (`outTrackId`). */
    readonly outTrackId: string,
    private readonly delivered: boolean,
    broken?: string,
  ) {
    this.broken = broken;
  }

  /** Create the card in the message's conversation, "thinking", and show it. If
   * DingTalk refuses, the card is broken and `finish` replies with markdown instead. */
  static start(msg: ChatbotMessage, templateId: string): AiCard {
    const outTrackId = `ai-${msg.msgId}`;
    try {
      cards.createAndDeliver({ templateId, outTrackId, params: { flowStatus: "1", msgContent: "", staticMsgContent: "" } });
      return new AiCard(outTrackId, true);
    } catch (e) {
      return new AiCard(outTrackId, false, broke("create and deliver", e));
    }
  }

  /** A card shown by an earlier frame (`start`ed there), to go on streaming into: an
   * agent's turn resumed after an approval. */
  static resume(outTrackId: string): AiCard {
    const card = new AiCard(outTrackId, true);
    card.streaming = true;
    return card;
  }

  /** The text the card shows now. */
  get shownText(): string {
    return this.shown;
  }

  /** Whether the card still works (the answer will be shown in it). */
  isLive(): boolean {
    return this.broken === undefined;
  }

  /** How long until an update may be sent, `intervalMs` after the last one. */
  nextUpdateIn(intervalMs: number): number {
    return this.lastUpdate === undefined ? 0 : Math.max(0, intervalMs - (Date.now() - this.lastUpdate));
  }

  /** Show `text` (the whole answer so far) if it changed; a failure breaks the card. */
  update(text: string): void {
    if (!this.isLive() || text === this.shown) return;
    try {
      if (!this.streaming) {
        cards.updateInstance(this.outTrackId, { msgContent: text, staticMsgContent: "", flowStatus: "2" });
        this.streaming = true;
      }
      cards.streamInstance(this.outTrackId, "msgContent", text, { full: true });
      this.shown = text;
      this.updates += 1;
      this.lastUpdate = Date.now();
    } catch (e) {
      this.broken = broke("streaming", e);
    }
  }

  /** Show the whole answer as final; if the card is broken, or breaks now, reply with
   * it as markdown instead (once). */
  finish(msg: ChatbotMessage, answer: string): Delivered {
    return this.finishFor(msg, answer);
  }

  /** `finish`, replying to `msg` when there is a message to reply to (a turn resumed
   * by a card press has none: a broken card is then only logged). */
  finishFor(msg: ChatbotMessage | undefined, answer: string): Delivered {
    if (this.isLive()) {
      try {
        cards.streamInstance(this.outTrackId, "msgContent", answer, { full: true, finalize: true });
        this.updates += 1;
        cards.updateInstance(this.outTrackId, { msgContent: answer, flowStatus: "3" });
        return "card";
      } catch (e) {
        this.broken = broke("final update", e);
      }
    }
    this.markFailed();
    if (msg) replyMarkdown(msg, title(answer), answer);
    else log.warn("the answer could not be shown: the card broke and there is no message to reply to");
    return "markdown";
  }

  /** The model failed: show the failed state and tell the user, in one short text. */
  fail(msg: ChatbotMessage, whatWentWrong: string): void {
    this.failFor(msg, whatWentWrong);
  }

  /** `fail`, telling `msg`'s sender when there is a message to reply to. */
  failFor(msg: ChatbotMessage | undefined, whatWentWrong: string): void {
    if (this.isLive()) {
      try {
        cards.streamInstance(this.outTrackId, "msgContent", this.shown || whatWentWrong, { full: true, finalize: true, failed: true });
      } catch (e) {
        this.broken = broke("failed state", e);
      }
    }
    this.markFailed();
    if (msg) replyText(msg, whatWentWrong);
  }

  /** Best effort: a card that was shown must not stay "generating". */
  private markFailed(): void {
    if (!this.delivered) return;
    try {
      cards.updateInstance(this.outTrackId, { flowStatus: "5" });
    } catch {
      // the card is already broken; the user gets the answer another way
    }
  }
}

function broke(step: string, e: unknown): string {
  const reason = e instanceof HostError ? e.reason : String(e);
  log.warn(`AI card ${step} failed, the answer will go as markdown: ${reason}`);
  return reason;
}

/** A markdown reply's title (what notifications show): the answer's first words. */
function title(answer: string): string {
  const first = [...answer].slice(0, 20).join("");
  return first.trim() === "" ? "Answer" : first;
}

/** How `answer` paces itself. */
export interface Pacing {
  /** The least time between two card updates (default 300 ms). */
  intervalMs: number;
  /** When to give up on the model, from the start: keep it under the host's frame
   * timeout so the plugin finishes the card (default 25 s). */
  deadlineMs: number;
}

/** The default pacing. */
export const PACING: Pacing = { intervalMs: 300, deadlineMs: 25_000 };

/**
 * Stream the model's answer to `messages` into `card`, at most one update per
 * interval; finish the card (or reply with markdown if it broke), or on a model
 * failure show the failed state and tell the user. The whole answer when the model
 * gave one.
 */
export async function answer(
  msg: ChatbotMessage,
  card: AiCard,
  client: ChatClient,
  messages: Message[],
  pacing: Pacing = PACING,
): Promise<string | undefined> {
  const started = Date.now();
  const failed = (e: unknown) => {
    const error = e instanceof ModelError ? e : new ModelError("request", String(e));
    log.warn(`model failed: ${error.message}`);
    card.fail(msg, `Sorry, ${error.message}.`);
    return undefined;
  };
  let stream: ChatStream;
  try {
    stream = await client.stream(messages);
  } catch (e) {
    return failed(e);
  }
  for (;;) {
    const left = pacing.deadlineMs - (Date.now() - started);
    if (left <= 0) return failed(new ModelError("timeout", `no complete answer within ${pacing.deadlineMs} ms`));
    // Wait for more text, but not past the moment the card may show what is new.
    const pending = card.isLive() && stream.text !== card.shownText;
    const wait = pending ? card.nextUpdateIn(pacing.intervalMs) : 1000;
    let progress: Progress;
    try {
      progress = await stream.poll(Math.min(wait, left));
    } catch (e) {
      return failed(e);
    }
    if (progress === "done") break;
    if (card.nextUpdateIn(pacing.intervalMs) === 0) card.update(stream.text);
  }
  card.finish(msg, stream.text);
  return stream.text;
}

/** Whose memory a message belongs to in a group: each `sender`'s own, or the whole
 * `conversation`'s (1:1 chats are per conversation anyway). */
export type MemoryScope = "sender" | "conversation";

/** The last turns of a conversation, in key-value state, forgotten after a quiet while. */
export class Memory {
  readonly key: string;
  readonly turns: number;
  readonly ttlMs: number;

  constructor(msg: ChatbotMessage, scope: MemoryScope, turns: number, ttlMs: number) {
    const sender = msg.senderStaffId ?? msg.senderId;
    this.key = msg.isGroup() && scope === "sender" ? `memory:${msg.conversationId}:${sender}` : `memory:${msg.conversationId}`;
    this.turns = turns;
    this.ttlMs = ttlMs;
  }

  /** A memory saved as JSON (an agent's turn waiting for an approval). */
  static restore(saved: { key: string; turns: number; ttlMs: number }): Memory {
    const memory = Object.create(Memory.prototype) as Memory;
    return Object.assign(memory, { key: saved.key, turns: saved.turns, ttlMs: saved.ttlMs });
  }

  /** Store the question before the model is called, so a follow-up sees it even while
   * its answer is still being written. */
  ask(user: string): void {
    this.push(Message.user(user));
  }

  /** Store the answer to the last question. */
  answered(assistant: string): void {
    this.push(Message.assistant(assistant));
  }

  private push(message: Message): void {
    const keep = this.turns * 2;
    const push = (old: Message[] | undefined) => {
      const all = [...(old ?? []), message];
      return keep === 0 ? [] : all.slice(-keep);
    };
    kv.update<Message[]>(this.key, push, this.ttlMs);
  }

  /** The remembered messages, oldest first. */
  load(): Message[] {
    return (kv.getJson<Message[]>(this.key) ?? []).map((m) => new Message(m.role, m.content));
  }

  /** Add one exchange, dropping the oldest past the limit. */
  remember(user: string, assistant: string): void {
    const keep = this.turns * 2;
    const remember = (old: Message[] | undefined) => {
      const all = [...(old ?? []), Message.user(user), Message.assistant(assistant)];
      return keep === 0 ? [] : all.slice(-keep);
    };
    kv.update<Message[]>(this.key, remember, this.ttlMs);
  }

  /** Forget everything; whether there was anything. */
  clear(): boolean {
    return kv.delete(this.key);
  }
}

export { Agent, BUTTON_PREFIX, type Step, type StepState, type Turn, approvalCard, parseButton, render } from "./agent.js";
