import assert from "node:assert/strict";
import { test } from "node:test";

import { sse } from "../src/sse.js";

// The parser itself is held to the shared vectors (conformance.test.ts).

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
