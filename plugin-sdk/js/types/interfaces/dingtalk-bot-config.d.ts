declare module 'dingtalk:bot/config@0.3.0' {
  /**
   * The value of `key` (at most 256 bytes), or none when it is not set.
   */
  export function get(key: string): string | undefined;
}
