// The shared conformance vectors (plugin-sdk/conformance/), run against this SDK. The
// Rust and Python SDKs run the same files; a drift in any of them fails its test.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { pathToFileURL } from "node:url";

import type { Frame, Error as WitError } from "dingtalk:bot/types@0.3.0";

import { Answer, ModelError } from "../src/answer.js";
import { CardCallback, CardUpdate } from "../src/callback.js";
import { HostError } from "../src/errors.js";
import { Event } from "../src/event.js";
import { ChatbotMessage, type MessageBody } from "../src/message.js";
import { Later, Plugin } from "../src/plugin.js";
import { SseParser } from "../src/sse.js";
import { UPDATE_ATTEMPTS, updateIn } from "../src/update.js";

// The compiled tests may live anywhere (the host's runner puts them under the target
// folder); `npm test` and the runner both start node in plugin-sdk/js.
const repository = new URL("../../", pathToFileURL(`${process.cwd()}/`));
const conformance = new URL("plugin-sdk/conformance/", repository);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const vectors = (name: string): any => JSON.parse(readFileSync(new URL(name, conformance), "utf8"));

/** Absent optional values as the vectors write them. */
const orNull = (v: unknown) => (v === undefined ? null : v);

function fields(msg: ChatbotMessage, schema: { fields: { key: string }[] }): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key } of schema.fields) {
    let value = (msg as unknown as Record<string, unknown>)[key];
    if (key === "atUsers") value = msg.atUsers.map((u) => ({ dingtalkId: u.dingtalkId, staffId: orNull(u.staffId) }));
    out[key] = orNull(value);
  }
  return out;
}

function body(b: MessageBody): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const keys: Record<MessageBody["kind"], string[]> = {
    text: ["text"],
    picture: ["downloadCode"],
    richText: ["items"],
    audio: ["downloadCode", "duration", "recognition"],
    video: ["downloadCode", "duration", "videoType"],
    file: ["downloadCode", "fileName", "fileId", "spaceId"],
    other: ["msgtype", "content"],
  };
  out.kind = b.kind;
  for (const k of keys[b.kind]) out[k] = orNull((b as Record<string, unknown>)[k]);
  return out;
}

test("every message vector decodes to its fields, body and extras", () => {
  const schema = vectors("message-schema.json");
  const all = vectors("messages.json");
  for (const c of all.cases) {
    const data = c.recorded ? readFileSync(new URL(c.recorded, repository), "utf8") : JSON.stringify(c.data);
    const msg = ChatbotMessage.fromJson(data);
    assert.deepEqual(fields(msg, schema), c.fields, `${c.name}: fields`);
    assert.deepEqual(body(msg.body()), c.body, `${c.name}: body`);
    assert.deepEqual(msg.extra, c.extra, `${c.name}: extra`);
    assert.equal(orNull(msg.textContent()), c.textContent, `${c.name}: text`);
    assert.equal(msg.isGroup(), c.isGroup, `${c.name}: group`);
  }
  for (const c of all.invalid) {
    assert.throws(() => ChatbotMessage.fromJson(JSON.stringify(c.data)), TypeError, c.name);
  }
});

test("every schema field is a property of ChatbotMessage and no other is", () => {
  const own = new Set(Object.keys(ChatbotMessage.fromJson({ msgtype: "text" })));
  own.delete("extra");
  const schema = new Set(vectors("message-schema.json").fields.map((f: { key: string }) => f.key));
  assert.deepEqual([...own].sort(), [...schema].sort());
});

function parse(chunks: Uint8Array[]) {
  const p = new SseParser();
  const events = [...chunks.flatMap((c) => p.feed(c)), ...p.finish()];
  return events.map((e) => ({ event: e.event, data: e.data, id: orNull(e.id) }));
}

test("every sse stream gives its events however it is split", () => {
  for (const c of vectors("sse.json").cases) {
    const bytes = new TextEncoder().encode(c.stream);
    assert.deepEqual(parse([bytes]), c.events, `${c.name}: whole`);
    for (let cut = 0; cut <= bytes.length; cut++) {
      assert.deepEqual(parse([bytes.slice(0, cut), bytes.slice(cut)]), c.events, `${c.name}: cut at ${cut}`);
    }
    const single = [...bytes].map((b) => Uint8Array.of(b));
    assert.deepEqual(parse(single), c.events, `${c.name}: byte by byte`);
  }
});

test("every card callback vector decodes and updates send strings", () => {
  const all = vectors("card-callbacks.json");
  for (const c of all.cases) {
    const cb = CardCallback.fromData(c.data);
    assert.deepEqual({ ...cb }, c.expect, c.name);
  }
  for (const c of all.invalid) assert.throws(() => CardCallback.fromData(c.data), TypeError, c.name);
  const update = new CardUpdate();
  for (const [k, v] of Object.entries(all.updates.card)) update.cardParam(k, v);
  for (const [k, v] of Object.entries(all.updates.private)) update.privateParam(k, v);
  assert.deepEqual(JSON.parse(JSON.stringify(update)), all.updates.json);
});

test("kv.update keeps every concurrent write and gives up after its bound", () => {
  const all = vectors("kv-update.json");
  assert.equal(UPDATE_ATTEMPTS, all.attempts_max);
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  for (const c of all.cases) {
    let value: Uint8Array | undefined = c.initial === null ? undefined : enc.encode(JSON.stringify(c.initial));
    let attempts = 0;
    const ttls: (number | undefined)[] = [];
    const store = {
      get: () => value,
      compareAndSwap: (_k: string, expected: Uint8Array | undefined, next: Uint8Array, ttlMs?: number) => {
        const write = c.writes[attempts];
        if (write !== undefined && write !== null) value = enc.encode(JSON.stringify(write));
        attempts += 1;
        ttls.push(ttlMs);
        const same = value === undefined ? expected === undefined : expected !== undefined && dec.decode(value) === dec.decode(expected);
        if (same) value = next;
        return same;
      },
    };
    const ttl = c.ttl_ms ?? undefined;
    const run = () => updateIn<string[]>(store, "k", (old) => [...(old ?? []), "mine"], ttl);
    if (c.error) {
      assert.throws(run, (e: unknown) => e instanceof HostError && e.kind === c.error, c.name);
    } else {
      assert.deepEqual(run(), c.result, c.name);
    }
    assert.deepEqual(JSON.parse(dec.decode(value)), c.stored, `${c.name}: stored`);
    assert.equal(attempts, c.attempts, `${c.name}: attempts`);
    assert.ok(ttls.every((t) => t === ttl), `${c.name}: ttl on every swap`);
  }
});

test("every WIT error has the shared kind, reason and dingtalk fields", () => {
  for (const c of vectors("errors.json").cases) {
    const e = new HostError(c.wit);
    assert.equal(e.kind, c.kind);
    assert.equal(e.reason, c.reason);
    assert.equal(e.message, c.reason);
    assert.deepEqual(orNull(e.dingtalk), c.dingtalk);
  }
});

const callback = (data: string): Frame => ({ kind: "callback", topic: "/t", messageId: "m", headers: [], data });

test("handler results and failures become the shared outcomes", async () => {
  const all = vectors("outcomes.json");
  for (const c of all.results) {
    const result = c.returns.json ?? (c.returns.later !== undefined ? new Later(c.returns.later) : undefined);
    const got = new Plugin("p", "1").onCallback("/t", () => result).export().handle(callback("{}"));
    const outcome = got as { tag: string; val?: string };
    const read = outcome.tag === "response" ? { tag: "response", val: JSON.parse(outcome.val as string) } : outcome;
    assert.deepEqual(read, c.outcome);
  }
  for (const c of all.failures) {
    const error = c.raises.host
      ? new HostError(c.raises.host)
      : c.raises.plugin
        ? Object.assign(new Error(c.raises.plugin), { name: "PluginError" })
        : new TypeError(c.raises.type);
    for (const handler of [() => { throw error; }, async () => { throw error; }]) {
      const handle = () => new Plugin("p", "1").onCallback("/t", handler).export().handle(callback("{}"));
      await assert.rejects(
        async () => handle(),
        (e: { payload: unknown }) => {
          assert.deepEqual(e.payload, c.error);
          return true;
        },
      );
    }
  }
});

test("a frame whose data does not decode fails as an invalid argument before any handler", () => {
  const ran = () => assert.fail("a handler ran");
  const bot = new Plugin("p", "1").onMessage(ran).onDelegate(ran).onEvent(ran).onCallback("/t", ran).export();
  for (const c of vectors("outcomes.json").undecodable) {
    const frame: Frame = { kind: c.kind, topic: c.topic, messageId: "m", headers: [], data: c.data };
    assert.throws(
      () => bot.handle(frame),
      (e: { payload: WitError }) => {
        const error = new HostError(e.payload);
        assert.equal(error.kind, c.error, c.name);
        assert.ok(error.reason.startsWith(c.reason_starts), `${c.name}: ${error.reason}`);
        return true;
      },
    );
  }
});

test("every event vector reads its headers and data", () => {
  for (const c of vectors("events.json").cases) {
    const e = Event.fromFrame({ kind: "event", topic: "*", messageId: "m", headers: c.headers, data: c.data });
    assert.deepEqual({ ...e }, c.expect, c.name);
  }
});

test("every chat stream vector spells its answer", () => {
  for (const c of vectors("chat-stream.json").cases) {
    const answer = new Answer();
    let error: string | null = null;
    for (const data of c.events) {
      try {
        answer.apply(data);
      } catch (e) {
        error = (e as ModelError).reason;
        break;
      }
      if (answer.done) break;
    }
    assert.equal(answer.text, c.text, c.name);
    assert.equal(answer.done, c.done, c.name);
    if (c.error === null) assert.equal(error, null, c.name);
    else assert.ok(error?.includes(c.error), `${c.name}: ${error}`);
  }
});

test("every tool stream vector spells its calls in each dialect", () => {
  for (const c of vectors("tool-stream.json").cases) {
    const answer = new Answer();
    for (const data of c.events) answer.apply(data);
    assert.ok(answer.done, c.name);
    assert.deepEqual(answer.calls, c.calls, c.name);
    assert.equal(answer.text, c.text, c.name);
    assert.equal(answer.reasoning ?? null, c.reasoning, c.name);
    assert.equal(answer.usage ?? null, c.usage, c.name);
  }
});
