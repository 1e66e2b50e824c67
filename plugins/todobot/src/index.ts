/**
 * todobot: a to-do list per conversation, kept in key-value state.
 *
 * `todo add <item>`, `todo list`, `todo done <n>`; anything else after `todo` gets the
 * usage, and messages that do not start with `todo` are left to the other plugins.
 *
 * It offers agents the same list as tools: `add`, `list`, `done` and the destructive
 * `clear`, each on the list of the conversation the call serves.
 */

import { ChatbotMessage, HostError, Plugin, kv, replyMarkdown } from "dingtalk-bot";

import { type Command, apply, parse } from "./todo.js";

const bot = new Plugin("todobot", "0.1.0");

const listKey = (conversationId: string) => `list:${conversationId}`;

/** Apply `command` to the conversation's list: the new list and the answer. */
function change(conversationId: string, command: Command): { items: string[]; answer: string } {
  let items: string[] = [];
  let answer = "";
  kv.update<string[]>(listKey(conversationId), (old) => {
    const result = apply(old ?? [], command);
    answer = result.answer;
    items = result.items ?? old ?? [];
    return items;
  });
  return { items, answer };
}

bot.tool({
  name: "add",
  description: "Add an item to this chat's to-do list.",
  parameters: { type: "object", properties: { item: { type: "string" } }, required: ["item"] },
  run: (args: { item?: unknown }, chat) => {
    if (typeof args.item !== "string" || !args.item.trim()) {
      throw new HostError({ tag: "invalid-argument", val: "item must be a non-empty string" });
    }
    return { items: change(chat.id, { kind: "add", item: args.item.trim() }).items };
  },
});

bot.tool({
  name: "list",
  description: "Show this chat's to-do list, numbered from 1.",
  parameters: { type: "object", properties: {} },
  run: (_args, chat) => ({ items: kv.getJson<string[]>(listKey(chat.id)) ?? [] }),
});

bot.tool({
  name: "done",
  description: "Tick off item n (from 1) of this chat's to-do list.",
  parameters: { type: "object", properties: { n: { type: "integer", minimum: 1 } }, required: ["n"] },
  run: (args: { n?: unknown }, chat) => {
    const n = args.n;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 1) {
      throw new HostError({ tag: "invalid-argument", val: "n must be an integer from 1" });
    }
    const before = kv.getJson<string[]>(listKey(chat.id)) ?? [];
    if (n > before.length) {
      throw new HostError({ tag: "invalid-argument", val: `there is no item ${n}: the list has ${before.length}` });
    }
    return { items: change(chat.id, { kind: "done", n }).items };
  },
});

bot.tool({
  name: "clear",
  description: "Delete every item of this chat's to-do list (destructive).",
  parameters: { type: "object", properties: {} },
  run: (_args, chat) => ({ cleared: kv.delete(listKey(chat.id)) }),
});

bot.onMessage((msg: ChatbotMessage) => {
  const command = parse(msg.textContent() ?? "");
  if (command === undefined) return;
  // Read-modify-write with compare-and-swap: two messages at once both land.
  replyMarkdown(msg, "todo", change(msg.conversationId, command).answer);
});

export default bot;
