/**
 * The plugin entry point, the same shape in every SDK: one `Plugin` object, its
 * handlers registered on it, and the object the module's default export. The
 * subscriptions `describe` reports are read off the registrations, so a plugin cannot
 * subscribe to a topic nothing handles.
 *
 * ```ts
 * import { Plugin, replyText } from "dingtalk-bot";
 *
 * const bot = new Plugin("echo", "0.1.0");
 * bot.onMessage((msg) => replyText(msg, msg.textContent() ?? "?"));
 * export default bot;
 * ```
 *
 * `export()` (which `host build` runs at the bundle's top level, before componentize-js
 * takes its snapshot) first warms the plugin up: synthetic text messages (`hello`, or
 * the texts given to `warmUp`) go through the message handlers with every host call
 * and `fetch` refused, so their code is already compiled in every fresh instance.
 * Nothing reaches the network or state; module state the handlers change is in the
 * snapshot, so a handler that keeps any should be given `warmUp([])`.
 *
 * Each frame runs in a fresh instance (or a warm one, when the operator chose so).
 * Dispatch: an EVENT goes to `onEvent` as an
 * `Event`; the chatbot (or delegate) topic to `onMessage` (`onDelegate`) as a decoded
 * `ChatbotMessage`; any other callback topic to its `onCallback` handler as parsed
 * JSON (an empty body is `{}`); a frame nothing handles is done; data that does not
 * decode fails the frame as `invalid-argument` before any handler runs. A handler's return
 * value becomes the ACK: `undefined` is done, an object or array (a `CardUpdate`, a
 * callback's answer) is the JSON response, `new Later("why")` (events) asks DingTalk
 * to push it again. A thrown `HostError` reaches the ACK as its own case, anything
 * else as the `plugin` case with `Name: message`. A handler may be `async` (to
 * `await fetch(…)`): componentize-js runs the instance's event loop until it settles.
 */

import type { Conversation, Description, Frame, Outcome, Subscription, Error as WitError } from "dingtalk:bot/types@0.3.0";

import { HostError } from "./errors.js";
import { Event } from "./event.js";
import { whileWarming } from "./gate.js";
import { jsonOrEmpty } from "./frame.js";
import { ChatbotMessage } from "./message.js";
import { type ToolDef, runTool } from "./tooldef.js";

/** The topic of messages sent to the robot. */
export const CHATBOT_TOPIC = "/v1.0/im/bot/messages/get";
/** The topic of messages a delegate ("hosted") robot receives. */
export const DELEGATE_TOPIC = "/v1.0/im/bot/messages/delegate";

/** Ask DingTalk to push the event again later (events only). */
export class Later {
  constructor(readonly reason: string) {}
}

/** What a handler may return. */
export type HandlerResult = void | undefined | Later | object;

type Returned = HandlerResult | Promise<HandlerResult>;
type MessageHandler = (msg: ChatbotMessage) => Returned;
type EventHandler = (event: Event) => Returned;
type CallbackHandler = (data: any) => Returned; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A plugin: its name, version and handlers. */
export class Plugin {
  private message?: MessageHandler;
  private delegate?: MessageHandler;
  private event?: EventHandler;
  private callbacks = new Map<string, CallbackHandler>();
  private tools = new Map<string, ToolDef>();
  private warmUpTexts: string[] = ["hello"];

  constructor(
    readonly name: string,
    readonly version: string,
  ) {}

  /** Handle messages sent to the robot. */
  onMessage(f: MessageHandler): this {
    this.message = f;
    return this;
  }

  /** Handle messages a delegate robot receives (a topic the operator must grant). */
  onDelegate(f: MessageHandler): this {
    this.delegate = f;
    return this;
  }

  /** Handle every event chosen in the developer console (topic `*`). */
  onEvent(f: EventHandler): this {
    this.event = f;
    return this;
  }

  /** Handle another callback topic (card callbacks: `cards.CALLBACK_TOPIC`), given its JSON data. */
  onCallback(topic: string, f: CallbackHandler): this {
    this.callbacks.set(topic, f);
    return this;
  }

  /** The texts of the synthetic messages `export()` runs through the message handlers at build (default `["hello"]`; `[]` runs none). */
  warmUp(texts: string[]): this {
    this.warmUpTexts = [...texts];
    return this;
  }

  /** Run the warm-up messages through the message handlers, every host call refused, every outcome dropped. */
  warm(): void {
    const handlers = [this.message, this.delegate].filter((f): f is MessageHandler => f !== undefined);
    whileWarming(() => {
      for (const text of this.warmUpTexts) {
        for (const handler of handlers) {
          try {
            const result = handler(ChatbotMessage.fromJson(JSON.stringify(synthetic(text))));
            if (result instanceof Promise) result.catch(() => undefined);
          } catch {
            // The first host call ends a warm-up message: everything before it ran.
          }
        }
      }
    });
  }

  /** Offer agents a tool (see `tools`); a second tool of the same name replaces the first. */
  tool<A, R>(def: ToolDef<A, R>): this {
    this.tools.set(def.name, def);
    return this;
  }

  /** Run the tool `name` on `argumentsJson` for `conversation`; its JSON result. */
  callTool(name: string, argumentsJson: string, conversation: Conversation): string {
    const tool = this.tools.get(name);
    if (!tool) throw new HostError({ tag: "invalid-argument", val: `no tool ${JSON.stringify(name)} here` });
    return runTool(tool, argumentsJson, conversation);
  }

  /** The subscriptions `describe` reports. */
  subscriptions(): Subscription[] {
    const subs: Subscription[] = [];
    if (this.message) subs.push({ kind: "callback", topic: CHATBOT_TOPIC });
    if (this.delegate) subs.push({ kind: "callback", topic: DELEGATE_TOPIC });
    for (const topic of this.callbacks.keys()) subs.push({ kind: "callback", topic });
    if (this.event) subs.push({ kind: "event", topic: "*" });
    return subs;
  }

  /** The component's exports: `describe`, `handle` and `callTool` (`host build` wires them up). */
  export(): {
    describe(): Description;
    handle(frame: Frame): Outcome | Promise<Outcome>;
    callTool(name: string, argumentsJson: string, conversation: Conversation): string;
  } {
    this.warm();
    return {
      describe: () => ({
        name: this.name,
        version: this.version,
        subscriptions: this.subscriptions(),
        tools: [...this.tools.values()].map((t) => ({
          name: t.name,
          description: t.description,
          parameters: JSON.stringify(t.parameters),
        })),
      }),
      callTool: (name, argumentsJson, conversation) => {
        try {
          return this.callTool(name, argumentsJson, conversation);
        } catch (e) {
          throw failure(e);
        }
      },
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
    if (frame.kind === "event") {
      const f = this.event;
      return f && f(decoded("malformed JSON", () => Event.fromFrame(frame)));
    }
    const message = frame.topic === CHATBOT_TOPIC ? this.message : frame.topic === DELEGATE_TOPIC ? this.delegate : undefined;
    if (message) return message(decoded("malformed chatbot message", () => ChatbotMessage.fromJson(frame.data)));
    const handler = this.callbacks.get(frame.topic);
    return handler && handler(decoded("malformed JSON", () => jsonOrEmpty(frame.data)));
  }
}

/** A text message from nobody, with a webhook nothing can reach. */
function synthetic(text: string): object {
  return {
    msgtype: "text",
    text: { content: text },
    msgId: "warm-up",
    conversationId: "warm-up",
    conversationType: "1",
    senderId: "warm-up",
    senderNick: "warm-up",
    senderStaffId: "warm-up",
    chatbotUserId: "warm-up",
    robotCode: "warm-up",
    createAt: 0,
    isInAtList: true,
    sessionWebhook: "https://warm-up.invalid/",
    sessionWebhookExpiredTime: 0,
  };
}

/** A frame's data decoded, or the invalid-argument error every SDK fails it with. */
function decoded<T>(what: string, decode: () => T): T {
  try {
    return decode();
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new HostError({ tag: "invalid-argument", val: `${what}: ${why}` });
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
