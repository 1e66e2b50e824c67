import assert from "node:assert/strict";
import { test } from "node:test";

import type { Frame } from "dingtalk:bot/types@0.3.0";

import { gated } from "../src/gate.js";
import { CHATBOT_TOPIC, DELEGATE_TOPIC, Plugin } from "../src/plugin.js";

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
    .onDelegate(() => undefined)
    .onCallback("/v1.0/card/instances/callback", () => undefined)
    .onEvent(() => undefined);
  assert.deepEqual(bot.export().describe(), {
    name: "p",
    version: "1.0.0",
    subscriptions: [
      { kind: "callback", topic: CHATBOT_TOPIC },
      { kind: "callback", topic: DELEGATE_TOPIC },
      { kind: "callback", topic: "/v1.0/card/instances/callback" },
      { kind: "event", topic: "*" },
    ],
    tools: [],
  });
});

test("a tool is described once and called with its decoded arguments", () => {
  const bot = new Plugin("p", "1").tool({
    name: "double",
    description: "Double n.",
    parameters: { type: "object", properties: { n: { type: "number" } } },
    run: (args: { n: number }, chat) => ({ n: args.n * 2, chat: chat.id }),
  });
  const exported = bot.export();
  assert.deepEqual(exported.describe().tools, [
    { name: "double", description: "Double n.", parameters: '{"type":"object","properties":{"n":{"type":"number"}}}' },
  ]);
  const chat = { id: "cid", sender: "u1", isGroup: false };
  assert.equal(exported.callTool("double", '{"n":21}', chat), '{"n":42,"chat":"cid"}');
  assert.throws(
    () => exported.callTool("double", "[1]", chat),
    (e: unknown) => (e as { payload: { tag: string } }).payload.tag === "invalid-argument",
  );
});

test("a message goes to its handler decoded and an event as an Event", () => {
  const seen: unknown[] = [];
  const bot = new Plugin("p", "1")
    .warmUp([])
    .onMessage((msg) => void seen.push(msg.textContent()))
    .onEvent((event) => void seen.push(event.eventType))
    .export();
  bot.handle(message(" hi "));
  bot.handle({ kind: "event", topic: "*", messageId: "e", headers: [["eventType", "chat_update_title"]], data: "" });
  assert.deepEqual(seen, ["hi", "chat_update_title"]);
});

test("export warms the message handlers up with synthetic messages, every host call and fetch refused", async () => {
  const host = gated({ call: () => "reached the host" });
  const seen: (string | undefined)[] = [];
  const calls: string[] = [];
  const fetched: Promise<string>[] = [];
  new Plugin("p", "1")
    .warmUp(["one", "two"])
    .onMessage((msg) => {
      seen.push(msg.textContent());
      fetched.push(fetch("http://127.0.0.1:9/").then(() => "fetched", (e: Error) => e.name));
      try {
        calls.push(host.call());
      } catch (e) {
        calls.push((e as Error).name);
      }
    })
    .export();
  assert.deepEqual(seen, ["one", "two"]);
  assert.deepEqual(calls, ["WarmingUp", "WarmingUp"]);
  assert.deepEqual(await Promise.all(fetched), ["WarmingUp", "WarmingUp"]);
  // After the warm-up, host calls go through again.
  assert.equal(host.call(), "reached the host");
});
