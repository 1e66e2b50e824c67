/**
 * What an OpenAI-compatible chat-completion stream spells out, and why a model gave
 * no (whole) answer: pure, so the shared vectors (`chat-stream.json`) test it with
 * plain Node. `ai` builds on it.
 */

/** One tool call a model asked for, accumulated from its deltas. */
export interface ToolCall {
  /** The call's id (`tool_call_id` of the answer); made up when the server sent none. */
  id: string;
  /** The function's name. */
  name: string;
  /** Its arguments, as the model wrote them (JSON text, not yet checked). */
  arguments: string;
}

/** The answer a stream's events spell out (`chat-stream.json`, `tool-stream.json`). */
export class Answer {
  /** The answer so far. */
  text = "";
  /** Whether `[DONE]` arrived. */
  done = false;
  /** The reasoning so far (`reasoning_content`), `undefined` while the server sent none
   * (DeepSeek wants it back, even empty, on tool turns). */
  reasoning?: string;
  /** The tool calls, in order (complete once `done`). */
  calls: ToolCall[] = [];
  /** The tokens the stream reported using (`usage.total_tokens`). */
  usage?: number;
  /** The `index` each call came under (a reused index with a new id is a new call). */
  private indexes: number[] = [];

  /** Apply one event's data; whether the text grew. Throws (a string reason) on an
   * error event or data that is not JSON. */
  apply(data: string): boolean {
    if (data.trim() === "[DONE]") {
      this.done = true;
      this.calls.forEach((c, n) => {
        if (c.id === "") c.id = `call_${n}`;
      });
      return false;
    }
    let event: {
      error?: { message?: unknown };
      usage?: { total_tokens?: unknown };
      choices?: { delta?: { content?: unknown; reasoning_content?: unknown; tool_calls?: unknown } }[];
    };
    try {
      event = JSON.parse(data);
    } catch (e) {
      throw new ModelError("broken", `an event is not JSON: ${(e as Error).message}`, { partial: this.text });
    }
    if (typeof event?.error?.message === "string") {
      throw new ModelError("broken", event.error.message, { partial: this.text });
    }
    const total = event?.usage?.total_tokens;
    if (typeof total === "number") this.usage = total;
    const delta = event?.choices?.[0]?.delta;
    if (delta && "reasoning_content" in delta) {
      this.reasoning ??= "";
      if (typeof delta.reasoning_content === "string") this.reasoning += delta.reasoning_content;
    }
    if (Array.isArray(delta?.tool_calls)) {
      for (const call of delta.tool_calls) this.addCallDelta(call);
    }
    // `reasoning_content` (thinking models) is not the answer; `content` may be absent or null.
    const piece = delta?.content;
    if (typeof piece === "string" && piece !== "") {
      this.text += piece;
      return true;
    }
    return false;
  }

  /** Fold one `tool_calls[]` delta in, by `index`: a delta whose `id` differs from the
   * id already at its index starts a new call (Ollama reuses index 0 for parallel
   * calls); a name is kept once set (a replayed opener changes nothing); string
   * arguments are appended, object arguments (Ollama's native shape) taken whole. */
  private addCallDelta(delta: { index?: unknown; id?: unknown; function?: { name?: unknown; arguments?: unknown } }): void {
    const index = typeof delta?.index === "number" ? delta.index : 0;
    const id = typeof delta?.id === "string" && delta.id !== "" ? delta.id : undefined;
    let at = this.indexes.lastIndexOf(index);
    if (at >= 0 && id !== undefined && this.calls[at].id !== "" && this.calls[at].id !== id) at = -1;
    if (at < 0) {
      this.calls.push({ id: "", name: "", arguments: "" });
      this.indexes.push(index);
      at = this.calls.length - 1;
    }
    const call = this.calls[at];
    if (id !== undefined) call.id = id;
    const fn = delta?.function;
    if (typeof fn?.name === "string" && call.name === "") call.name = fn.name;
    if (typeof fn?.arguments === "string") call.arguments += fn.arguments;
    else if (fn?.arguments !== null && typeof fn?.arguments === "object" && !Array.isArray(fn.arguments)) {
      call.arguments = JSON.stringify(fn.arguments);
    }
  }
}

/** How a model failed: `status` (an error answer), `timeout`, `broken` (the stream
 * ended or broke before `[DONE]`; `partial` keeps what arrived), `request` (refused
 * by the host, network). Its `message` is one short sentence for the user, the same
 * as the other SDKs'. */
export class ModelError extends Error {
  override name = "ModelError";
  readonly status?: number;
  readonly retryAfter?: number;
  readonly partial?: string;

  constructor(
    readonly kind: "status" | "timeout" | "broken" | "request",
    /** The server's message, what timed out, or why the stream broke. */
    readonly reason: string,
    extra: { status?: number; retryAfter?: number; partial?: string } = {},
  ) {
    super(sentence(kind, reason, extra));
    this.status = extra.status;
    this.retryAfter = extra.retryAfter;
    this.partial = extra.partial;
  }
}

function sentence(kind: string, reason: string, { status, retryAfter }: { status?: number; retryAfter?: number }): string {
  switch (kind) {
    case "status":
      if (status === 401) return "the model service refused the API key (401)";
      if (status === 429) {
        return retryAfter === undefined
          ? "the model service is busy (429); try again shortly"
          : `the model service is busy (429); try again in ${retryAfter} s`;
      }
      if ((status ?? 0) >= 500) return `the model service failed (${status}): ${reason}`;
      return `the model service refused the request (${status}): ${reason}`;
    case "timeout":
      return `the model service did not answer in time (${reason})`;
    case "broken":
      return `the model's answer broke off (${reason})`;
    default:
      return `the model service could not be reached (${reason})`;
  }
}
