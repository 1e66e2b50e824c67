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

export * as cards from "./cards";
export * as clock from "./clock";
export * as config from "./config";
export * as kv from "./kv";
export * as log from "./log";
export * as media from "./media";
export * as messages from "./messages";
export * as openapi from "./openapi";
export { HostError, PluginError } from "./errors";
export { AtUser, ChatbotMessage } from "./message";
export { CHATBOT_TOPIC, Later, Plugin } from "./plugin";
export { At, actionCard, feedCard, link, markdown, replyMarkdown, replyText, text } from "./reply";
export { sse } from "./sse";
