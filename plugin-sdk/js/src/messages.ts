/** Proactive robot messages (needs the operator's `proactive = true` grant). */

import * as witImports from "dingtalk:bot/messages@0.3.0";

import { gated } from "./gate.js";
import { hostCall } from "./errors.js";

const wit = gated(witImports);

/** Send `msgKey` (e.g. `sampleText`) with `msgParam` to users 1:1; the processQueryKey. */
export function sendToUsers(userIds: string[], msgKey: string, msgParam: unknown): string {
  return hostCall(wit.sendToUsers, userIds, msgKey, JSON.stringify(msgParam));
}

/** Send to a group by its openConversationId; the processQueryKey. */
export function sendToGroup(openConversationId: string, msgKey: string, msgParam: unknown): string {
  return hostCall(wit.sendToGroup, openConversationId, msgKey, JSON.stringify(msgParam));
}
