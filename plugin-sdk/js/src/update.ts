/**
 * The read-modify-write loop of `kv.update`, on its own so it runs against a scripted
 * store in tests (`plugin-sdk/conformance/kv-update.json`).
 */

import { HostError } from "./errors.js";

/** How often `kv.update` tries before giving up: the same bound in every SDK. */
export const UPDATE_ATTEMPTS = 16;

/** The two operations the loop needs. */
export interface Cas {
  get(key: string): Uint8Array | undefined;
  compareAndSwap(key: string, expected: Uint8Array | undefined, value: Uint8Array, ttlMs?: number): boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Replace the JSON value at `key` with `f(old)`, written only if nobody wrote in
 * between; retried up to `UPDATE_ATTEMPTS` times, then a `HostError` of kind
 * `unavailable` (the key kept changing). The value written.
 */
export function updateIn<T>(store: Cas, key: string, f: (old: T | undefined) => T, ttlMs?: number): T {
  for (let attempt = 0; attempt < UPDATE_ATTEMPTS; attempt++) {
    const current = store.get(key);
    const next = f(current === undefined ? undefined : (JSON.parse(decoder.decode(current)) as T));
    if (store.compareAndSwap(key, current, encoder.encode(JSON.stringify(next)), ttlMs)) return next;
  }
  throw new HostError({
    tag: "unavailable",
    val: `${JSON.stringify(key)} kept changing: ${UPDATE_ATTEMPTS} compare-and-swap attempts failed`,
  });
}
