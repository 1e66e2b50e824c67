/** Other DingTalk OpenAPI calls, authenticated by the host (only granted paths). */

import * as witImports from "dingtalk:bot/openapi@0.3.0";

import { gated } from "./gate.js";
import { hostCall } from "./errors.js";

const wit = gated(witImports);

/** `method` `path` with an optional JSON body; the JSON answer. */
export function call<T = unknown>(method: string, path: string, body?: unknown): T {
  const text = body === undefined ? undefined : JSON.stringify(body);
  return JSON.parse(hostCall(wit.call, method, path, text)) as T;
}
