/**
 * A tool a plugin offers (`Plugin.tool`): its definition and how a call runs it.
 * Pure (no host imports), so the plugin entry point and its tests load it anywhere.
 */

import type { Conversation } from "dingtalk:bot/types@0.3.0";

import { HostError } from "./errors.js";

/** A tool a plugin offers: its name, what it does, its arguments' JSON Schema, its function. */
export interface ToolDef<A = any, R = unknown> { // eslint-disable-line @typescript-eslint/no-explicit-any
  /** `^[a-z][a-z0-9_-]{0,47}$`; agents see it as `<plugin>.<name>`. */
  name: string;
  /** What it does, for the model. */
  description: string;
  /** The JSON Schema of its argument object. */
  parameters: object;
  /** The function: decoded arguments and the conversation the call serves; its result is sent as JSON. */
  run: (args: A, conversation: Conversation) => R;
}

/** Run `tool` on `argumentsJson`: arguments that are not a JSON object are refused as `invalid-argument`. */
export function runTool(tool: ToolDef, argumentsJson: string, conversation: Conversation): string {
  let args: unknown;
  try {
    args = JSON.parse(argumentsJson);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new HostError({ tag: "invalid-argument", val: `the arguments do not fit: ${why}` });
  }
  if (args === null || typeof args !== "object" || Array.isArray(args)) {
    throw new HostError({ tag: "invalid-argument", val: "the arguments do not fit: not a JSON object" });
  }
  const result = tool.run(args, conversation);
  return JSON.stringify(result === undefined ? null : result);
}

