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
import * as witImports from "dingtalk:bot/tools@0.3.0";

import { gated } from "./gate.js";
import { hostCall } from "./errors.js";

const wit = gated(witImports);

export { type ToolDef, runTool } from "./tooldef.js";

export type { Conversation };
export type { Approval, Called, Decision, Settlement, Tool, TurnBudget } from "dingtalk:bot/tools@0.3.0";

/** The tools granted to this plugin. */
export function list(): witImports.Tool[] {
  return hostCall(wit.list);
}

/** Call a granted tool with an argument object. */
export function call(name: string, args: object | string): witImports.Called {
  return hostCall(wit.call, name, typeof args === "string" ? args : JSON.stringify(args));
}

/** What this turn may still spend. */
export function budget(): witImports.TurnBudget {
  return hostCall(wit.budget);
}

/** Count tokens a model used; the tokens left today. */
export function spend(tokens: number): number {
  return Number(hostCall(wit.spend, BigInt(tokens)));
}

/** Settle an approval as the person behind this frame. */
export function settle(id: string, decision: witImports.Decision): witImports.Settlement {
  return hostCall(wit.settle, id, decision);
}
