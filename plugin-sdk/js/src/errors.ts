/**
 * Errors crossing the plugin boundary.
 *
 * Host calls throw a `HostError` carrying the WIT error (`kind` is its case:
 * `dingtalk`, `timeout`, `network`, `invalid-argument`, `denied`, `plugin`, `limit`,
 * `unavailable`). A handler fails a frame by throwing (`PluginError` or anything
 * else: its message becomes the reason).
 */

import type { DingtalkError, Error as WitError } from "dingtalk:bot/types@0.3.0";

/** The handler's own failure: the frame gets an error ACK with this reason. */
export class PluginError extends Error {
  override name = "PluginError";
}

/** A host call failed; `kind` names the WIT error case, `reason` its text. */
export class HostError extends Error {
  override name = "HostError";
  readonly kind: WitError["tag"];
  readonly reason: string;
  /** DingTalk's own answer, when `kind` is `dingtalk`. */
  readonly dingtalk?: DingtalkError;
  /** The WIT error as the host sent it. */
  readonly value: WitError;

  constructor(value: WitError) {
    const reason = value.tag === "dingtalk" ? value.val.message : value.val;
    super(`${value.tag}: ${reason}`);
    this.kind = value.tag;
    this.reason = reason;
    this.value = value;
    if (value.tag === "dingtalk") this.dingtalk = value.val;
  }
}

/** Call the import `f`; a WIT error (thrown with its `payload`) becomes a `HostError`. */
export function hostCall<A extends unknown[], R>(f: (...args: A) => R, ...args: A): R {
  try {
    return f(...args);
  } catch (e) {
    const payload = (e as { payload?: WitError } | null)?.payload;
    if (payload !== undefined && typeof payload === "object" && "tag" in payload) {
      throw new HostError(payload);
    }
    throw e;
  }
}
