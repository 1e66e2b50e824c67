/// <reference path="./dingtalk-bot-types.d.ts" />
declare module 'dingtalk:bot/openapi@0.3.0' {
  /**
   * `method` (GET, POST, PUT, PATCH, DELETE) `path` (e.g. `/v1.0/contact/users/me`,
   * query allowed) with an optional JSON body; returns the JSON answer.
   */
  export function call(method: string, path: string, body: string | undefined): string;
  export type Error = import('dingtalk:bot/types@0.3.0').Error;
}
