declare module 'dingtalk:bot/clock@0.3.0' {
  /**
   * Milliseconds since the Unix epoch.
   */
  export function nowMs(): bigint;
  /**
   * Wait `ms` milliseconds, at most 60000 per call (counted against the call's
   * wall-clock limit, not its CPU budget).
   */
  export function sleepMs(ms: number): void;
}
