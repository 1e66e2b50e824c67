/** Time that never blocks the host. */

import * as witImports from "dingtalk:bot/clock@0.3.0";

import { gated } from "./gate.js";

const wit = gated(witImports);

/** Milliseconds since the Unix epoch. */
export function nowMs(): number {
  return Number(wit.nowMs());
}

/** Wait `ms` milliseconds (at most 60000 per call; counted as wall-clock, not CPU). */
export function sleep(ms: number): void {
  wit.sleepMs(ms);
}
