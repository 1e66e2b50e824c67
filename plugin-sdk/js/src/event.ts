/** Events (EVENT frames, topic `*`): the headers that identify them, and the body. */

import type { Frame } from "dingtalk:bot/types@0.3.0";

import { jsonOrEmpty } from "./frame.js";

/** One event, as DingTalk pushed it. */
export class Event {
  constructor(
    /** e.g. `user_add_org`, `chat_update_title`. */
    readonly eventType: string,
    /** Unique id: the key for de-duplicating re-pushed events. */
    readonly eventId: string,
    /** The organisation it happened in. */
    readonly corpId: string,
    /** When it happened, epoch milliseconds. */
    readonly bornTime: number,
    /** The event body; its fields depend on `eventType` (an empty body is `{}`). */
    readonly data: unknown,
  ) {}

  /** Read an event from an EVENT frame. */
  static fromFrame(frame: Frame): Event {
    const header = (k: string) => frame.headers.find(([name]) => name === k)?.[1] ?? "";
    const born = Number.parseInt(header("eventBornTime"), 10);
    return new Event(
      header("eventType"),
      header("eventId"),
      header("eventCorpId"),
      Number.isFinite(born) ? born : 0,
      jsonOrEmpty(frame.data),
    );
  }
}
