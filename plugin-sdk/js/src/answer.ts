/**
 * What an OpenAI-compatible chat-completion stream spells out, and why a model gave
 * no (whole) answer: pure, so the shared vectors (`chat-stream.json`) test it with
 * plain Node. `ai` builds on it.
 */

/** The answer a stream's events spell out. */
export class Answer {
  /** The answer so far. */
  text = "";
  /** Whether `[DONE]` arrived. */
  done = false;

  /** Apply one event's data; whether the text grew. Throws (a string reason) on an
   * error event or data that is not JSON. */
  apply(data: string): boolean {
    if (data.trim() === "[DONE]") {
      this.done = true;
      return false;
    }
    let event: { error?: { message?: unknown }; choices?: { delta?: { content?: unknown } }[] };
    try {
      event = JSON.parse(data);
    } catch (e) {
      throw new ModelError("broken", `an event is not JSON: ${(e as Error).message}`, { partial: this.text });
    }
    if (typeof event?.error?.message === "string") {
      throw new ModelError("broken", event.error.message, { partial: this.text });
    }
    // `reasoning_content` (thinking models) is not the answer; `content` may be absent or null.
    const piece = event?.choices?.[0]?.delta?.content;
    if (typeof piece === "string" && piece !== "") {
      this.text += piece;
      return true;
    }
    return false;
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
