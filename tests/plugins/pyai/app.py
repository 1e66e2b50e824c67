"""pyai: aibot in a few lines of the Python SDK's ``ai`` helpers, so the end-to-end
tests hold them to what aibot (Rust) does. Config: ``base-url``, ``model``,
``update-interval-ms``; ``/new`` forgets the conversation."""

from dingtalk_bot import Plugin, ai, config, reply_text

bot = Plugin("pyai", "0.1.0")


@bot.on_message
def ask(msg):
    question = msg.text_content() or ""
    memory = ai.Memory(msg, "sender", turns=10, ttl_ms=30 * 60_000)
    if question == "/new":
        memory.clear()
        reply_text(msg, "Memory cleared.")
        return
    messages = [ai.Message.system("You are a helpful assistant."), *memory.load(), ai.Message.user(question)]
    client = ai.ChatClient(config.get("base-url") or "https://api.openai.com/v1", config.get("model") or "gpt-4o-mini")
    pacing = ai.Pacing(interval_ms=int(config.get("update-interval-ms") or 300))
    text = ai.answer(msg, ai.AiCard.start(msg, ai.AI_CARD_TEMPLATE), client, messages, pacing)
    if text is not None:
        memory.remember(question, text)


WitWorld = bot.export()
