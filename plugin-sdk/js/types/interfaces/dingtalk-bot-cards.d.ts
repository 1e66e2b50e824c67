/// <reference path="./dingtalk-bot-types.d.ts" />
declare module 'dingtalk:bot/cards@0.3.0' {
  /**
   * Send a StandardCard (`card` is the card's JSON object) with this business id;
   * returns DingTalk's processQueryKey. Goes to the group or 1:1 chat the frame's
   * message came from.
   */
  export function sendStandard(cardBizId: string, card: string): string;
  /**
   * Replace the data of a StandardCard sent earlier.
   */
  export function updateStandard(cardBizId: string, card: string): void;
  /**
   * Create a card instance (not yet shown anywhere).
   */
  export function createInstance(card: CardInstance): void;
  /**
   * Show a created instance in the conversation of the frame being handled.
   */
  export function deliverInstance(outTrackId: string): void;
  /**
   * Create and show in one call.
   */
  export function createAndDeliver(card: CardInstance): void;
  /**
   * Update an instance's variables (`params`, a JSON object) and, optionally,
   * per-user private variables (`private-params`: `{"<userId>": {..}}`). With
   * `by-key`, only the given keys change; otherwise the whole map is replaced.
   */
  export function updateInstance(outTrackId: string, params: string, privateParams: string | undefined, byKey: boolean): void;
  /**
   * Stream text into variable `key` of an AI card, as `mode` says (no flags:
   * append).
   */
  export function streamInstance(outTrackId: string, key: string, content: string, mode: StreamMode): void;
  export type Error = import('dingtalk:bot/types@0.3.0').Error;
  /**
   * A card instance of an advanced card template (protocol.md D.6).
   */
  export interface CardInstance {
    /**
     * e.g. `589420e2-c1e2-46ef-a5ed-b8728e654da9.schema`.
     */
    templateId: string,
    /**
     * Your id for this instance; later calls and callbacks use it.
     */
    outTrackId: string,
    /**
     * The card's variables, a JSON object; non-string values are JSON-encoded,
     * since DingTalk takes strings only.
     */
    params: string,
    /**
     * Callbacks for this card go over HTTP to this route key; when none (the
     * usual case) they come over the Stream connection (`callbackType: STREAM`).
     */
    callbackRouteKey?: string,
  }
  /**
   * How one `stream-instance` call changes the streamed variable.
   */
  export interface StreamMode {
    /**
     * Replace the variable's text instead of appending to it.
     */
    full?: boolean,
    /**
     * End the stream (the card shows the answer as finished).
     */
    finalize?: boolean,
    /**
     * Show the card's failed state.
     */
    failed?: boolean,
  }
}
