/**
 * todobot: a to-do list per conversation, kept in key-value state.
 *
 * `todo add <item>`, `todo list`, `todo done <n>`; anything else after `todo` gets the
 * usage, and messages that do not start with `todo` are left to the other plugins.
 */

import { ChatbotMessage, Plugin, kv, replyMarkdown } from "dingtalk-bot";

import { apply, parse } from "./todo.js";

const bot = new Plugin("todobot", "0.1.0");

bot.onMessage((msg: ChatbotMessage) => {
  const command = parse(msg.textContent() ?? "");
  if (command === undefined) return;
  const key = `list:${msg.conversationId}`;
  // Read-modify-write with compare-and-swap: two messages at once both land.
  let answer = "";
  kv.update<string[]>(key, (old) => {
    const result = apply(old ?? [], command);
    answer = result.answer;
    return result.items ?? old ?? [];
  });
  replyMarkdown(msg, "todo", answer);
});

export default bot;
