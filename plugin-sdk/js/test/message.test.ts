// The SDK's host-independent parts (what needs no `dingtalk:bot` import), against the
// payloads DingTalk really sent (`tests/fixtures/recorded`).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { test } from "node:test";

import { ChatbotMessage } from "../src/message.js";

// Run from plugin-sdk/js (wherever the compiled tests are).
const recorded = (name: string) => readFileSync(resolve("../../tests/fixtures/recorded", name), "utf8");

test("a recorded text message decodes every field", () => {
  const raw = JSON.parse(recorded("cb_msg_text.json"));
  const msg = ChatbotMessage.fromJson(recorded("cb_msg_text.json"));
  assert.equal(msg.msgtype, "text");
  assert.equal(msg.textContent(), raw.text.content.trim());
  assert.equal(msg.sessionWebhook, raw.sessionWebhook);
  assert.equal(msg.senderStaffId, raw.senderStaffId);
  assert.equal(msg.conversationId, raw.conversationId);
  assert.equal(msg.robotCode, raw.robotCode ?? "");
  assert.equal(msg.isGroup(), raw.conversationType === "2");
  assert.deepEqual(msg.extra, {});
});

test("other message types have no text and keep their content", () => {
  for (const name of ["cb_msg_picture.json", "cb_msg_rich_text.json", "cb_msg_file.json"]) {
    const msg = ChatbotMessage.fromJson(recorded(name));
    assert.equal(msg.textContent(), undefined, name);
    assert.notEqual(msg.content, undefined, name);
  }
});

test("unknown fields are kept and a message without its webhook is refused", () => {
  const raw = JSON.parse(recorded("cb_msg_text.json"));
  raw.somethingNew = 1;
  assert.equal(ChatbotMessage.fromJson(raw).extra.somethingNew, 1);
  delete raw.sessionWebhook;
  assert.throws(() => ChatbotMessage.fromJson(raw), /sessionWebhook/);
  assert.throws(() => ChatbotMessage.fromJson("[]"), /JSON object/);
});
