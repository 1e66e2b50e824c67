/// <reference path="./dingtalk-bot-types.d.ts" />
declare module 'dingtalk:bot/kv@0.3.0' {
  /**
   * The value of `key`, or none when it is not set (or expired).
   */
  export function get(key: string): Uint8Array | undefined;
  /**
   * Set `key`, replacing any value; with `ttl-ms` it expires that many ms later.
   */
  export function set(key: string, value: Uint8Array, ttlMs: bigint | undefined): void;
  /**
   * Remove `key`; true when it was set.
   */
  export { _delete as delete };
  function _delete(key: string): boolean;
  /**
   * Whether `key` is set.
   */
  export function exists(key: string): boolean;
  /**
   * Up to `limit` keys starting with `prefix`, after `cursor` when given.
   */
  export function listKeys(prefix: string, cursor: string | undefined, limit: number): KeyPage;
  /**
   * Add `delta` to the integer (decimal text) at `key`, a missing key counting as
   * 0; the key keeps its TTL. A value that is not an integer, or an overflow, is
   * `invalid-argument`.
   */
  export function increment(key: string, delta: bigint): bigint;
  /**
   * Set `key` to `value` only if its current value is `expected` (none: only if
   * it is not set); true when it was set.
   */
  export function compareAndSwap(key: string, expected: Uint8Array | undefined, value: Uint8Array, ttlMs: bigint | undefined): boolean;
  /**
   * The values of several keys, in order.
   * 
   * The values together (a key named twice counts twice) are at most four times
   * the value limit (and at most the host-buffer budget, see `media.download`):
   * past that the call is `limit`, decided from the stored sizes
   * before any value is read. The answer's bound (that, or the keys' count times
   * the value limit when smaller) is held from the plugin's host-buffer budget
   * (see `media.download`) while it is built and handed over.
   */
  export function getMany(keys: Array<string>): Array<Uint8Array | undefined>;
  /**
   * Set several keys at once (all or none), each with `ttl-ms` when given.
   */
  export function setMany(entries: Array<[string, Uint8Array]>, ttlMs: bigint | undefined): void;
  export type Error = import('dingtalk:bot/types@0.3.0').Error;
  /**
   * One page of a listing.
   */
  export interface KeyPage {
    /**
     * Keys in byte order.
     */
    keys: Array<string>,
    /**
     * Pass back to `list-keys` for the next page; none on the last.
     */
    cursor?: string,
  }
}
