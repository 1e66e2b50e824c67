/// <reference path="../types/plugin.d.ts" />

/**
 * Write DingTalk bot plugins for dingtalk-wasm-host in TypeScript or JavaScript.
 *
 * The same names and shapes as the Rust and Python SDKs: `ChatbotMessage`,
 * `replyText`/`replyMarkdown` and `At`, `cards`, `media`, `kv`, `config`, `log`; the
 * entry point is a `Plugin` whose handlers are registered with methods and which the
 * module exports as its default. Outbound HTTP is the standard `fetch` (see `sse` for
 * streamed answers). Build with `host build <project>`, which bundles the project with
 * esbuild and runs componentize-js against the host's WIT.
 */

export * as cards from "./cards.js";
export * as clock from "./clock.js";
export * as config from "./config.js";
export * as kv from "./kv.js";
export * as log from "./log.js";
export * as media from "./media.js";
export * as messages from "./messages.js";
export * as openapi from "./openapi.js";
export { HostError, PluginError } from "./errors.js";
export { type AtUser, ChatbotMessage } from "./message.js";
export { CHATBOT_TOPIC, Later, Plugin } from "./plugin.js";
export { At, actionCard, feedCard, link, markdown, replyMarkdown, replyText, text } from "./reply.js";
export { type SseEvent, SseParser, sse } from "./sse.js";
