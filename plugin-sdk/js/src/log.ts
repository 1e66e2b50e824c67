/** Log lines the host writes with the plugin's name (bounded by the host). */

import * as witImports from "dingtalk:bot/log@0.3.0";

import { gated } from "./gate.js";

const wit = gated(witImports);

export function trace(message: unknown): void {
  wit.log("trace", String(message));
}

export function debug(message: unknown): void {
  wit.log("debug", String(message));
}

export function info(message: unknown): void {
  wit.log("info", String(message));
}

export function warn(message: unknown): void {
  wit.log("warn", String(message));
}

export function error(message: unknown): void {
  wit.log("error", String(message));
}
