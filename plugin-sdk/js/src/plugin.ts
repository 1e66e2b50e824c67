/**
 * The plugin entry point: one object, its handlers registered with methods, and the
 * object the module's default export.
 *
 * ```ts
 * import { Plugin, replyText } from "dingtalk-bot";
 *
 * const bot = new Plugin("echo", "0.1.0");
 * bot.onMessage((msg) => replyText(msg, msg.textContent() ?? "?"));
 * export default bot;
 * ```
 *
 * Each frame runs in a fresh instance. A handler's return value becomes the ACK:
 * `undefined` is done, an object (e.g. a `CardUpdate`) or array is the JSON response
 * of a callback, `new Later("why")` (events) asks DingTalk to push it again. A thrown
 * error fails the frame with its message. A handler may be `async` (to `await
 * fetch(…)`): componentize-js runs the instance's event loop until it settles.
 */

import type { Description, Frame, Outcome, Subscription, Error as WitError } from "dingtalk:bot/types@0.3.0";

import { HostError } from "./errors.js";
import { ChatbotMessage } from "./message.js";

/** The topic of chatbot messages. */
export const CHATBOT_TOPIC = "/v1.0/im/bot/messages/get";

/** Ask DingTalk to push the event again later (events only). */
export class Later {
  constructor(readonly reason: string) {}
}

/** What a handler may return. */
export type HandlerResult = void | undefined | Later | object;

type Returned = HandlerResult | Promise<HandlerResult>;
type MessageHandler = (msg: ChatbotMessage, frame: Frame) => Returned;
type EventHandler = (eventType: string, data: Record<string, unknown>, frame: Frame) => Returned;
type CallbackHandler = (data: Record<string, unknown>, frame: Frame) => Returned;

/** A plugin: its name, version and handlers. */
export class Plugin {
  private message?: MessageHandler;
  private event?: EventHandler;
  private callbacks = new Map<string, CallbackHandler>();

  constructor(
    readonly name: string,
    readonly version: string,
  ) {}

  /** Handle chatbot messages. */
  onMessage(f: MessageHandler): this {
    this.message = f;
    return this;
  }

  /** Handle events (topic `*`): `f(eventType, data)`. */
  onEvent(f: EventHandler): this {
    this.event = f;
    return this;
  }

  /** Handle another callback topic (e.g. card callbacks): `f(data)`. */
  onCallback(topic: string, f: CallbackHandler): this {
    this.callbacks.set(topic, f);
    return this;
  }

  /** The subscriptions `describe` reports. */
  subscriptions(): Subscription[] {
    const subs: Subscription[] = [];
    if (this.message) subs.push({ kind: "callback", topic: CHATBOT_TOPIC });
    for (const topic of this.callbacks.keys()) subs.push({ kind: "callback", topic });
    if (this.event) subs.push({ kind: "event", topic: "*" });
    return subs;
  }

  /** The component's exports: `describe` and `handle` (`host build` wires them up). */
  export(): { describe(): Description; handle(frame: Frame): Outcome | Promise<Outcome> } {
    return {
      describe: () => ({ name: this.name, version: this.version, subscriptions: this.subscriptions() }),
      handle: (frame) => {
        let result: Returned;
        try {
          result = this.dispatch(frame);
        } catch (e) {
          throw failure(e);
        }
        if (result instanceof Promise) {
          return result.then(outcome, (e) => {
            throw failure(e);
          });
        }
        return outcome(result);
      },
    };
  }

  private dispatch(frame: Frame): Returned {
    if (frame.kind === "event" && this.event) {
      const eventType = frame.headers.find(([k]) => k === "eventType")?.[1] ?? "";
      return this.event(eventType, JSON.parse(frame.data || "{}"), frame);
    }
    if (frame.topic === CHATBOT_TOPIC && this.message) {
      return this.message(ChatbotMessage.fromJson(frame.data), frame);
    }
    const handler = this.callbacks.get(frame.topic);
    return handler ? handler(JSON.parse(frame.data || "{}"), frame) : undefined;
  }
}

function outcome(result: HandlerResult): Outcome {
  if (result === undefined || result === null) return { tag: "done" };
  if (result instanceof Later) return { tag: "later", val: result.reason };
  return { tag: "response", val: JSON.stringify(result) };
}

/** A thrown value as the WIT error componentize-js reads from `payload`. */
function failure(e: unknown): { payload: WitError } {
  if (e instanceof HostError) return { payload: e.value };
  const reason = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return { payload: { tag: "plugin", val: reason } };
}
