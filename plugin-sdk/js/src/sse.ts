/**
 * Server-sent events from a streamed `fetch` answer (e.g. an OpenAI-compatible
 * `stream: true` chat completion), parsed as they arrive.
 *
 * ```ts
 * const res = await fetch(url, { method: "POST", body, headers });
 * for await (const event of sse(res)) {
 *   if (event.data === "[DONE]") break;
 *   const delta = JSON.parse(event.data).choices[0]?.delta?.content ?? "";
 * }
 * ```
 *
 * Follows the WHATWG rules: lines end in CR, LF or CRLF (also split across chunks);
 * `data` lines of one event join with LF; comments (`:`) are skipped; a field without a
 * colon has an empty value; one leading space of a value is dropped; an event is
 * dispatched at a blank line, and one without data is not; the last `id` persists.
 * One choice beyond them, shared by every SDK: `finish()` dispatches an event whose
 * blank line never came (`plugin-sdk/conformance/sse.json`).
 */

/** One event. */
export interface SseEvent {
  /** The `event` field; `message` when not set. */
  event: string;
  /** The `data` lines, joined with LF. */
  data: string;
  /** The last `id` seen, if any. */
  id?: string;
}

/** A push parser: feed it bytes (or text) as they arrive, split anywhere, and take the
 * finished events; `finish()` at the end of the stream. */
export class SseParser {
  private buffer = "";
  private data: string[] = [];
  private event = "";
  private id?: string;
  private lastWasCr = false;
  private decoder = new TextDecoder();

  /** Add bytes (a UTF-8 sequence may be split) or text; the events they complete. */
  feed(chunk: Uint8Array | string): SseEvent[] {
    let text = typeof chunk === "string" ? chunk : this.decoder.decode(chunk, { stream: true });
    if (this.lastWasCr && text.startsWith("\n")) text = text.slice(1);
    if (text !== "") this.lastWasCr = false;
    this.buffer += text;
    const out: SseEvent[] = [];
    for (;;) {
      const end = this.buffer.search(/[\r\n]/);
      if (end < 0) break;
      const line = this.buffer.slice(0, end);
      let next = end + 1;
      if (this.buffer[end] === "\r") {
        if (end + 1 === this.buffer.length) this.lastWasCr = true;
        else if (this.buffer[end + 1] === "\n") next += 1;
      }
      this.buffer = this.buffer.slice(next);
      const event = this.line(line);
      if (event) out.push(event);
    }
    return out;
  }

  /** The end of the stream: an event whose blank line never came is dispatched. */
  finish(): SseEvent[] {
    const rest = this.buffer + this.decoder.decode();
    this.buffer = "";
    const out: SseEvent[] = [];
    for (const line of rest === "" ? [""] : [rest, ""]) {
      const event = this.line(line);
      if (event) out.push(event);
    }
    return out;
  }

  private line(line: string): SseEvent | undefined {
    if (line === "") {
      if (this.data.length === 0) {
        this.event = "";
        return undefined;
      }
      const event: SseEvent = { event: this.event || "message", data: this.data.join("\n"), id: this.id };
      this.data = [];
      this.event = "";
      return event;
    }
    if (line.startsWith(":")) return undefined;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    else if (field === "id" && !value.includes("\0")) this.id = value;
    return undefined;
  }
}

/** The events of a streamed answer's body, as they arrive. */
export async function* sse(response: Response): AsyncGenerator<SseEvent> {
  if (!response.body) return;
  const parser = new SseParser();
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    yield* parser.feed(value);
  }
  yield* parser.finish();
}
