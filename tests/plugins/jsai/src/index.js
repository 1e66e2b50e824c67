// jsai: aibot in a few lines of the TypeScript SDK's `ai` helpers, so the end-to-end
// tests hold them to what aibot (Rust) does. Config: `base-url`, `model`,
// `update-interval-ms`; `/new` forgets the conversation.
import { Plugin, ai, config, replyText } from "dingtalk-bot";

const bot = new Plugin("jsai", "0.1.0");

bot.onMessage(async (msg) => {
  const question = msg.textContent() ?? "";
  const memory = new ai.Memory(msg, "sender", 10, 30 * 60_000);
  if (question === "/new") {
    memory.clear();
    replyText(msg, "Memory cleared.");
    return;
  }
  const messages = [ai.Message.system("You are a helpful assistant."), ...memory.load(), ai.Message.user(question)];
  const client = new ai.ChatClient(config.get("base-url") ?? "https://api.openai.com/v1", config.get("model") ?? "gpt-4o-mini");
  const pacing = { ...ai.PACING, intervalMs: Number(config.get("update-interval-ms") ?? 300) };
  const text = await ai.answer(msg, ai.AiCard.start(msg, ai.AI_CARD_TEMPLATE), client, messages, pacing);
  if (text !== undefined) memory.remember(question, text);
});

export default bot;
