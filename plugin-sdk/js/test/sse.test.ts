import assert from "node:assert/strict";
import { test } from "node:test";

import { SseParser, sse } from "../src/sse.js";

test("events split anywhere, with any line ending, come out whole", () => {
  const stream = "data: one\r\n\r\n: a comment\nevent: delta\ndata: two\ndata: lines\n\rdata:x\r";
  for (let cut = 0; cut <= stream.length; cut++) {
    const parser = new SseParser();
    const events = [...parser.push(stream.slice(0, cut)), ...parser.push(stream.slice(cut)), ...parser.push("\n\n")];
    assert.deepEqual(
      events.map((e) => [e.event, e.data]),
      [
        ["message", "one"],
        ["delta", "two\nlines"],
        ["message", "x"],
      ],
      `cut at ${cut}`,
    );
  }
});

test("an event without data is not dispatched and a field without a colon is empty", () => {
  const parser = new SseParser();
  assert.deepEqual(parser.push("event: ping\n\ndata\n\n"), [{ event: "message", data: "", id: undefined }]);
});

test("a streamed response's last event is dispatched without a trailing blank line", async () => {
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      const enc = new TextEncoder();
      c.enqueue(enc.encode('data: {"a":'));
      c.enqueue(enc.encode("1}\n\ndata: [DONE]"));
      c.close();
    },
  });
  const got = [];
  for await (const event of sse(new Response(body))) got.push(event.data);
  assert.deepEqual(got, ['{"a":1}', "[DONE]"]);
});
