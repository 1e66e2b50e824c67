/**
 * Key-value state of this plugin (and app): keys are strings, values bytes.
 *
 * Only this plugin's namespace is reachable. `ttlMs` makes a value expire.
 */

import * as witImports from "dingtalk:bot/kv@0.3.0";

import { gated } from "./gate.js";
import { hostCall } from "./errors.js";
import { updateIn } from "./update.js";

const wit = gated(witImports);

export { UPDATE_ATTEMPTS } from "./update.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const ttl = (ttlMs?: number) => (ttlMs === undefined ? undefined : BigInt(ttlMs));

export function get(key: string): Uint8Array | undefined {
  return hostCall(wit.get, key);
}

export function set(key: string, value: Uint8Array | string, ttlMs?: number): void {
  hostCall(wit.set, key, bytes(value), ttl(ttlMs));
}

/** Remove `key`; true when it was set. (`kv.delete`: `delete` is a reserved word.) */
function del(key: string): boolean {
  return hostCall(wit.delete, key);
}
export { del as delete };

export function exists(key: string): boolean {
  return hostCall(wit.exists, key);
}

/** Add `delta` to the decimal integer at `key` (0 when unset); the new value. */
export function increment(key: string, delta = 1): number {
  return Number(hostCall(wit.increment, key, BigInt(delta)));
}

/** Set `value` only if `key` holds `expected` (`undefined`: is unset). */
export function compareAndSwap(
  key: string,
  expected: Uint8Array | string | undefined,
  value: Uint8Array | string,
  ttlMs?: number,
): boolean {
  const old = expected === undefined ? undefined : bytes(expected);
  return hostCall(wit.compareAndSwap, key, old, bytes(value), ttl(ttlMs));
}

/** The values of several keys, in order. */
export function getMany(keys: string[]): (Uint8Array | undefined)[] {
  return hostCall(wit.getMany, keys);
}

/** Set several keys at once (all or none). */
export function setMany(entries: [string, Uint8Array | string][], ttlMs?: number): void {
  hostCall(wit.setMany, entries.map(([k, v]): [string, Uint8Array] => [k, bytes(v)]), ttl(ttlMs));
}

/** The value at `key` as UTF-8 text. */
export function getText(key: string): string | undefined {
  const raw = get(key);
  return raw === undefined ? undefined : decoder.decode(raw);
}

/** The JSON value at `key`. */
export function getJson<T = unknown>(key: string): T | undefined {
  const raw = get(key);
  return raw === undefined ? undefined : (JSON.parse(decoder.decode(raw)) as T);
}

export function setJson(key: string, value: unknown, ttlMs?: number): void {
  set(key, JSON.stringify(value), ttlMs);
}

/** Every key starting with `prefix`, in byte order, a page at a time. */
export function* keys(prefix = ""): Generator<string> {
  let cursor: string | undefined;
  do {
    const page = hostCall(wit.listKeys, prefix, cursor, 100);
    yield* page.keys;
    cursor = page.cursor;
  } while (cursor !== undefined);
}

/**
 * Replace the JSON value at `key` with `f(old)` without losing a concurrent writer's
 * change (compare-and-swap, at most `UPDATE_ATTEMPTS` tries, then a `HostError` of
 * kind `unavailable`); the value written. The same contract and argument order as
 * the Rust and Python SDKs.
 */
export function update<T>(key: string, f: (old: T | undefined) => T, ttlMs?: number): T {
  return updateIn({ get, compareAndSwap }, key, f, ttlMs);
}

function bytes(value: Uint8Array | string): Uint8Array {
  return typeof value === "string" ? encoder.encode(value) : value;
}
