/**
 * Errors crossing the plugin boundary: one model in every SDK
 * (`plugin-sdk/conformance/errors.json`).
 *
 * Host calls throw a `HostError` carrying the WIT error: `kind` is its case
 * (`dingtalk`, `timeout`, `network`, `invalid-argument`, `denied`, `plugin`, `limit`,
 * `unavailable`), `reason` one line saying what went wrong, `dingtalk` DingTalk's
 * own `{status, code, message}` for the `dingtalk` case. A handler fails a frame by
 * throwing: a `HostError` reaches the ACK as its own case, anything else (a
 * `PluginError`, a `TypeError`, …) as the `plugin` case with `Name: message`.
 */

import type { DingtalkError, Error as WitError } from "dingtalk:bot/types@0.3.0";

/** The handler's own failure: the frame gets an error ACK with this reason. */
export class PluginError extends Error {
  override name = "PluginError";
}

/** One line for a WIT error, the same text in every SDK. */
function describe(value: WitError): string {
  switch (value.tag) {
    case "dingtalk":
      return `DingTalk answered HTTP ${value.val.status}, code ${JSON.stringify(value.val.code)}: ${value.val.message}`;
    case "invalid-argument":
      return `invalid argument: ${value.val}`;
    case "plugin":
      return value.val;
    default:
      return `${value.tag}: ${value.val}`;
  }
}

/** A host call failed. */
export class HostError extends Error {
  override name = "HostError";
  /** The WIT error case. */
  readonly kind: WitError["tag"];
  /** One line saying what went wrong (also the `message`). */
  readonly reason: string;
  /** DingTalk's own answer, when `kind` is `dingtalk`. */
  readonly dingtalk?: DingtalkError;
  /** The WIT error as the host sent it. */
  readonly value: WitError;

  constructor(value: WitError) {
    const reason = describe(value);
    super(reason);
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
