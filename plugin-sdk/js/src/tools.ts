/**
 * Tools: offer them to agents (`Plugin.tool`), or, as an agent, call the ones the
 * operator granted. Calls go through the host, which runs each in a fresh instance
 * of the tool's plugin, refuses tools the grant does not list and keeps the turn's
 * bounds (a `limit` error names the bound).
 *
 * ```ts
 * bot.tool({
 *   name: "add",
 *   description: "Add an item to this chat's to-do list.",
 *   parameters: { type: "object", properties: { item: { type: "string" } }, required: ["item"] },
 *   run: (args: { item: string }, chat) => ({ added: args.item, list: chat.id }),
 * });
 * ```
 */

import type { Conversation } from "dingtalk:bot/types@0.3.0";
import * as wit from "dingtalk:bot/tools@0.3.0";

import { HostError, hostCall } from "./errors.js";

export type { Conversation };
export type { Approval, Called, Decision, Settlement, Tool, TurnBudget } from "dingtalk:bot/tools@0.3.0";

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

/** The tools granted to this plugin. */
export function list(): wit.Tool[] {
  return hostCall(wit.list);
}

/** Call a granted tool with an argument object. */
export function call(name: string, args: object | string): wit.Called {
  return hostCall(wit.call, name, typeof args === "string" ? args : JSON.stringify(args));
}

/** What this turn may still spend. */
export function budget(): wit.TurnBudget {
  return hostCall(wit.budget);
}

/** Count tokens a model used; the tokens left today. */
export function spend(tokens: number): number {
  return Number(hostCall(wit.spend, BigInt(tokens)));
}

/** Settle an approval as the person behind this frame. */
export function settle(id: string, decision: wit.Decision): wit.Settlement {
  return hostCall(wit.settle, id, decision);
}
