/// <reference path="../types/plugin.d.ts" />

/**
 * Write DingTalk bot plugins for dingtalk-wasm-host in TypeScript or JavaScript.
 *
 * The same concepts and names as the Rust and Python SDKs, in TypeScript's case
 * (`plugin-sdk/CONCEPTS.md`): the entry point is a `Plugin` whose handlers are
 * registered on it and which the module exports as its default; `ChatbotMessage`,
 * `Event`, the replies (`replyText`, `replyMarkdown`, `text`, `markdown`,
 * `actionCard`, `link`, `feedCard`, `At`), `cards`, `media`, `messages`, `openapi`,
 * `config`, `log`, `clock`, `kv`, `ai`; errors are `HostError`/`PluginError`.
 * Outbound HTTP is the standard `fetch` (see `sse` for streamed answers). Build with
 * `host build <project>`, which bundles the project with esbuild and runs
 * componentize-js against the host's WIT.
 */

export * as ai from "./ai.js";
export * as cards from "./cards.js";
export * as clock from "./clock.js";
export * as config from "./config.js";
export * as kv from "./kv.js";
export * as log from "./log.js";
export * as media from "./media.js";
export * as messages from "./messages.js";
export * as openapi from "./openapi.js";
export * as tools from "./tools.js";
export { HostError, PluginError } from "./errors.js";
export { Event } from "./event.js";
export { type AtUser, ChatbotMessage, type MessageBody, type RichTextItem } from "./message.js";
export { CHATBOT_TOPIC, DELEGATE_TOPIC, Later, Plugin } from "./plugin.js";
export { At, actionCard, feedCard, link, markdown, replyMarkdown, replyText, text } from "./reply.js";
export { type SseEvent, SseParser, sse } from "./sse.js";
