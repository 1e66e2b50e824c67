import assert from "node:assert/strict";
import { test } from "node:test";

import type { Frame } from "dingtalk:bot/types@0.3.0";

import { HostError } from "../src/errors.js";
import { CHATBOT_TOPIC, Later, Plugin } from "../src/plugin.js";

const message = (text: string): Frame => ({
  kind: "callback",
  topic: CHATBOT_TOPIC,
  messageId: "m1",
  headers: [["topic", CHATBOT_TOPIC]],
  data: JSON.stringify({ msgtype: "text", text: { content: text }, sessionWebhook: "https://x/y" }),
});

test("describe reports one subscription per kind of handler", () => {
  const bot = new Plugin("p", "1.0.0")
    .onMessage(() => undefined)
    .onCallback("/v1.0/card/instances/callback", () => undefined)
    .onEvent(() => undefined);
  assert.deepEqual(bot.export().describe(), {
    name: "p",
    version: "1.0.0",
    subscriptions: [
      { kind: "callback", topic: CHATBOT_TOPIC },
      { kind: "callback", topic: "/v1.0/card/instances/callback" },
      { kind: "event", topic: "*" },
    ],
  });
});

test("a handler's return value becomes the outcome, async ones included", async () => {
  const handle = (f: () => unknown) => new Plugin("p", "1").onMessage(f as () => undefined).export().handle(message("hi"));
  assert.deepEqual(handle(() => undefined), { tag: "done" });
  assert.deepEqual(handle(() => ({ a: 1 })), { tag: "response", val: '{"a":1}' });
  assert.deepEqual(handle(() => new Later("busy")), { tag: "later", val: "busy" });
  assert.deepEqual(await handle(async () => ({ b: 2 })), { tag: "response", val: '{"b":2}' });
});

test("a thrown error fails the frame with its text and a host error keeps its case", async () => {
  const handle = (f: () => unknown) => new Plugin("p", "1").onMessage(f as () => undefined).export().handle(message("hi"));
  assert.throws(
    () => handle(() => {
      throw new TypeError("bad");
    }),
    (e: { payload: unknown }) => {
      assert.deepEqual(e.payload, { tag: "plugin", val: "TypeError: bad" });
      return true;
    },
  );
  const denied = new HostError({ tag: "denied", val: "not granted" });
  await assert.rejects(
    Promise.resolve(
      handle(async () => {
        throw denied;
      }),
    ),
    (e: { payload: unknown }) => {
      assert.deepEqual(e.payload, { tag: "denied", val: "not granted" });
      return true;
    },
  );
  assert.equal(denied.kind, "denied");
  assert.equal(denied.reason, "not granted");
});
