/// <reference path="./interfaces/dingtalk-bot-cards.d.ts" />
/// <reference path="./interfaces/dingtalk-bot-clock.d.ts" />
/// <reference path="./interfaces/dingtalk-bot-config.d.ts" />
/// <reference path="./interfaces/dingtalk-bot-kv.d.ts" />
/// <reference path="./interfaces/dingtalk-bot-log.d.ts" />
/// <reference path="./interfaces/dingtalk-bot-media.d.ts" />
/// <reference path="./interfaces/dingtalk-bot-messages.d.ts" />
/// <reference path="./interfaces/dingtalk-bot-openapi.d.ts" />
/// <reference path="./interfaces/dingtalk-bot-reply.d.ts" />
/// <reference path="./interfaces/dingtalk-bot-tools.d.ts" />
/// <reference path="./interfaces/dingtalk-bot-types.d.ts" />
declare module 'dingtalk:bot/plugin@0.3.0' {
  export type Description = import('dingtalk:bot/types@0.3.0').Description;
  export type Frame = import('dingtalk:bot/types@0.3.0').Frame;
  export type Outcome = import('dingtalk:bot/types@0.3.0').Outcome;
  export type Error = import('dingtalk:bot/types@0.3.0').Error;
  export type Conversation = import('dingtalk:bot/types@0.3.0').Conversation;
  export type * as DingtalkBotCards030 from 'dingtalk:bot/cards@0.3.0'; // import dingtalk:bot/cards@0.3.0
  export type * as DingtalkBotClock030 from 'dingtalk:bot/clock@0.3.0'; // import dingtalk:bot/clock@0.3.0
  export type * as DingtalkBotConfig030 from 'dingtalk:bot/config@0.3.0'; // import dingtalk:bot/config@0.3.0
  export type * as DingtalkBotKv030 from 'dingtalk:bot/kv@0.3.0'; // import dingtalk:bot/kv@0.3.0
  export type * as DingtalkBotLog030 from 'dingtalk:bot/log@0.3.0'; // import dingtalk:bot/log@0.3.0
  export type * as DingtalkBotMedia030 from 'dingtalk:bot/media@0.3.0'; // import dingtalk:bot/media@0.3.0
  export type * as DingtalkBotMessages030 from 'dingtalk:bot/messages@0.3.0'; // import dingtalk:bot/messages@0.3.0
  export type * as DingtalkBotOpenapi030 from 'dingtalk:bot/openapi@0.3.0'; // import dingtalk:bot/openapi@0.3.0
  export type * as DingtalkBotReply030 from 'dingtalk:bot/reply@0.3.0'; // import dingtalk:bot/reply@0.3.0
  export type * as DingtalkBotTools030 from 'dingtalk:bot/tools@0.3.0'; // import dingtalk:bot/tools@0.3.0
  export type * as DingtalkBotTypes030 from 'dingtalk:bot/types@0.3.0'; // import dingtalk:bot/types@0.3.0
  /**
  * Called once at load: name, version, subscriptions and tools.
  */
  export function describe(): Description;
  /**
  * Called for every subscribed frame, each time in a fresh instance.
  */
  export function handle(frame: Frame): Outcome;
  /**
  * Run the tool `name` (one of `describe`'s) on `arguments` (a JSON object as
  * text) for `conversation`, in a fresh instance; the result is JSON text.
  * `invalid-argument` for arguments it refuses, `plugin` when it fails.
  */
  export function callTool(name: string, arguments: string, conversation: Conversation): string;
  export type Result<T, E> = { tag: 'ok', val: T } | { tag: 'err', val: E };
}
