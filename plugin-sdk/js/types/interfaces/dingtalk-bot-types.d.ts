declare module 'dingtalk:bot/types@0.3.0' {
  /**
   * The kind of pushed frame. SYSTEM frames are answered by the host itself.
   * # Variants
   * 
   * ## `"callback"`
   * 
   * A request DingTalk expects an answer to, e.g. a chatbot message.
   * ## `"event"`
   * 
   * A notification of something that happened (topic `*`).
   */
  export type FrameKind = 'callback' | 'event';
  /**
   * One (kind, topic) pair a plugin wants frames for.
   */
  export interface Subscription {
    kind: FrameKind,
    /**
     * e.g. `/v1.0/im/bot/messages/get`; events always use `*`.
     */
    topic: string,
  }
  /**
   * A tool a plugin offers to agents (`export call-tool` runs it).
   */
  export interface ToolSpec {
    /**
     * `^[a-z][a-z0-9_-]{0,47}$`; agents see it as `<plugin>.<tool>`.
     */
    name: string,
    /**
     * What it does, for the model (at most 1024 bytes).
     */
    description: string,
    /**
     * The JSON Schema of its argument object, as JSON text (at most 8192 bytes).
     */
    parameters: string,
  }
  /**
   * Who the plugin is and what it wants.
   */
  export interface Description {
    name: string,
    version: string,
    subscriptions: Array<Subscription>,
    /**
     * The tools it offers (at most 32); none for a plugin that only chats.
     */
    tools: Array<ToolSpec>,
  }
  /**
   * The conversation a tool call serves (the agent's frame's chat).
   */
  export interface Conversation {
    /**
     * `conversationId`.
     */
    id: string,
    /**
     * The sender's `senderStaffId`, or their `senderId` when there is none.
     */
    sender: string,
    /**
     * Whether it is a group chat.
     */
    isGroup: boolean,
  }
  /**
   * One pushed frame, as DingTalk sent it.
   */
  export interface Frame {
    kind: FrameKind,
    topic: string,
    /**
     * The frame's `headers.messageId`.
     */
    messageId: string,
    /**
     * Every header of the frame; all values are strings on the wire.
     */
    headers: Array<[string, string]>,
    /**
     * The frame's `data`: JSON text, passed through unparsed.
     */
    data: string,
  }
  /**
   * What the handler made of a frame; the host turns it into the ACK.
   */
  export type Outcome = OutcomeDone | OutcomeResponse | OutcomeLater;
  /**
   * Handled: a callback is answered `{"response": null}`, an event `SUCCESS`.
   */
  export interface OutcomeDone {
    tag: 'done',
  }
  /**
   * A callback's answer: ACK data `{"response": <this JSON text>}`.
   * (For an event this means `SUCCESS`; the text is not sent.)
   */
  export interface OutcomeResponse {
    tag: 'response',
    val: string,
  }
  /**
   * Not handled now, push it again later: an event is answered `LATER` with
   * this message; a callback gets code 500 with it. At most 1024 bytes of the
   * message reach the ACK and the log (the rest is cut with a marker), as for
   * error texts and panic messages.
   */
  export interface OutcomeLater {
    tag: 'later',
    val: string,
  }
  /**
   * An error DingTalk itself answered with.
   */
  export interface DingtalkError {
    /**
     * The HTTP status; 200 for legacy APIs that report errors in the body.
     */
    status: number,
    /**
     * DingTalk's `code` (new APIs) or `errcode` (legacy APIs), as text.
     */
    code: string,
    /**
     * DingTalk's `message` or `errmsg`.
     */
    message: string,
  }
  /**
   * Why a host call or a handler failed.
   */
  export type Error = ErrorDingtalk | ErrorTimeout | ErrorNetwork | ErrorInvalidArgument | ErrorDenied | ErrorPlugin | ErrorLimit | ErrorUnavailable;
  /**
   * DingTalk answered, with an error.
   */
  export interface ErrorDingtalk {
    tag: 'dingtalk',
    val: DingtalkError,
  }
  /**
   * No answer in time: the request may or may not have taken effect.
   */
  export interface ErrorTimeout {
    tag: 'timeout',
    val: string,
  }
  /**
   * The request could not be sent, or its answer could not be read.
   */
  export interface ErrorNetwork {
    tag: 'network',
    val: string,
  }
  /**
   * The host refused an argument before sending anything.
   */
  export interface ErrorInvalidArgument {
    tag: 'invalid-argument',
    val: string,
  }
  /**
   * The plugin is not allowed to do this.
   */
  export interface ErrorDenied {
    tag: 'denied',
    val: string,
  }
  /**
   * The handler failed for a reason of its own.
   */
  export interface ErrorPlugin {
    tag: 'plugin',
    val: string,
  }
  /**
   * A per-plugin quota or bound is used up (key-value bytes or keys, calls per
   * frame or per second, host-side result bytes); nothing changed. The text
   * names the bound.
   */
  export interface ErrorLimit {
    tag: 'limit',
    val: string,
  }
  /**
   * A service behind the host is down (the Redis key-value backend); nothing
   * is known to have changed, try again later.
   */
  export interface ErrorUnavailable {
    tag: 'unavailable',
    val: string,
  }
}
