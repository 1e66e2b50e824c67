/// <reference path="./interfaces/dingtalk-bot-cards.d.ts" />
/// <reference path="./interfaces/dingtalk-bot-clock.d.ts" />
/// <reference path="./interfaces/dingtalk-bot-config.d.ts" />
/// <reference path="./interfaces/dingtalk-bot-kv.d.ts" />
/// <reference path="./interfaces/dingtalk-bot-log.d.ts" />
/// <reference path="./interfaces/dingtalk-bot-media.d.ts" />
/// <reference path="./interfaces/dingtalk-bot-messages.d.ts" />
/// <reference path="./interfaces/dingtalk-bot-openapi.d.ts" />
/// <reference path="./interfaces/dingtalk-bot-reply.d.ts" />
/// <reference path="./interfaces/dingtalk-bot-types.d.ts" />
declare module 'dingtalk:bot/plugin@0.2.0' {
  export type Description = import('dingtalk:bot/types@0.2.0').Description;
  export type Frame = import('dingtalk:bot/types@0.2.0').Frame;
  export type Outcome = import('dingtalk:bot/types@0.2.0').Outcome;
  export type Error = import('dingtalk:bot/types@0.2.0').Error;
  export type * as DingtalkBotCards020 from 'dingtalk:bot/cards@0.2.0'; // import dingtalk:bot/cards@0.2.0
  export type * as DingtalkBotClock020 from 'dingtalk:bot/clock@0.2.0'; // import dingtalk:bot/clock@0.2.0
  export type * as DingtalkBotConfig020 from 'dingtalk:bot/config@0.2.0'; // import dingtalk:bot/config@0.2.0
  export type * as DingtalkBotKv020 from 'dingtalk:bot/kv@0.2.0'; // import dingtalk:bot/kv@0.2.0
  export type * as DingtalkBotLog020 from 'dingtalk:bot/log@0.2.0'; // import dingtalk:bot/log@0.2.0
  export type * as DingtalkBotMedia020 from 'dingtalk:bot/media@0.2.0'; // import dingtalk:bot/media@0.2.0
  export type * as DingtalkBotMessages020 from 'dingtalk:bot/messages@0.2.0'; // import dingtalk:bot/messages@0.2.0
  export type * as DingtalkBotOpenapi020 from 'dingtalk:bot/openapi@0.2.0'; // import dingtalk:bot/openapi@0.2.0
  export type * as DingtalkBotReply020 from 'dingtalk:bot/reply@0.2.0'; // import dingtalk:bot/reply@0.2.0
  export type * as DingtalkBotTypes020 from 'dingtalk:bot/types@0.2.0'; // import dingtalk:bot/types@0.2.0
  /**
  * Called once at load: name, version and subscriptions.
  */
  export function describe(): Description;
  /**
  * Called for every subscribed frame, each time in a fresh instance.
  */
  export function handle(frame: Frame): Outcome;
  export type Result<T, E> = { tag: 'ok', val: T } | { tag: 'err', val: E };
}
