/// <reference path="./dingtalk-bot-types.d.ts" />
declare module 'dingtalk:bot/messages@0.3.0' {
  /**
   * Send to users 1:1 (`msg-key` e.g. `sampleText`, `msg-param` its JSON object);
   * returns DingTalk's processQueryKey.
   */
  export function sendToUsers(userIds: Array<string>, msgKey: string, msgParam: string): string;
  /**
   * Send to a group by its openConversationId; returns the processQueryKey.
   */
  export function sendToGroup(openConversationId: string, msgKey: string, msgParam: string): string;
  export type Error = import('dingtalk:bot/types@0.3.0').Error;
}
