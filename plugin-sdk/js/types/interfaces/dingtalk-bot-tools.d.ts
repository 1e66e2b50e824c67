/// <reference path="./dingtalk-bot-types.d.ts" />
declare module 'dingtalk:bot/tools@0.3.0' {
  /**
   * The granted tools, sorted by plugin. At most 8 calls per frame (`limit`
   * past it): the answer carries every schema and does not change within a frame.
   */
  export function list(): Array<Tool>;
  /**
   * Call a granted tool (by `name` or `qualified`) with a JSON object. Arguments
   * at most 64 KiB.
   */
  export function call(name: string, arguments: string): Called;
  /**
   * What this turn may still spend.
   */
  export function budget(): TurnBudget;
  /**
   * Count `tokens` a model used (read from its stream) against today's budget of
   * this conversation; the tokens left.
   */
  export function spend(tokens: bigint): bigint;
  /**
   * Settle the approval `id` as the person behind the frame being handled (the
   * presser of a card button, the sender of `/approve <id>`), who must be an
   * approver. The turn's bounds continue from where it stopped.
   */
  export function settle(id: string, decision: Decision): Settlement;
  export type Error = import('dingtalk:bot/types@0.3.0').Error;
  /**
   * A granted tool.
   */
  export interface Tool {
    /**
     * The name to show a model: `^[a-zA-Z0-9_-]{1,64}$`, unique among this
     * plugin's tools (`calcbot.calc` is `calcbot_calc`).
     */
    name: string,
    /**
     * `<plugin>.<tool>`, as the config names it.
     */
    qualified: string,
    description: string,
    /**
     * JSON Schema of the arguments, as JSON text.
     */
    parameters: string,
    /**
     * Whether every call waits for a person's yes (`approvals`).
     */
    needsApproval: boolean,
  }
  /**
   * What the turn may still spend.
   */
  export interface TurnBudget {
    toolCalls: number,
    sameCall: number,
    modelRounds: number,
    /**
     * Milliseconds left of the turn.
     */
    remainingMs: bigint,
    /**
     * Tokens left today for this conversation (`tokens_per_conversation_per_day`).
     */
    tokens: bigint,
  }
  /**
   * A call that waits for a person: show it with buttons and end the frame; a
   * later frame settles it (`settle`).
   */
  export interface Approval {
    /**
     * Opaque, unguessable; at most 64 bytes.
     */
    id: string,
    /**
     * `<plugin>.<tool>`.
     */
    tool: string,
    /**
     * The arguments, as JSON text.
     */
    arguments: string,
    /**
     * Who may approve, in words (e.g. "the sender", "a group admin").
     */
    approvers: string,
    /**
     * Milliseconds until it expires (and counts as denied).
     */
    expiresInMs: bigint,
  }
  /**
   * What a call did.
   */
  export type Called = CalledOk | CalledFailed | CalledPending;
  /**
   * The tool's result (JSON text), cut to the bound.
   */
  export interface CalledOk {
    tag: 'ok',
    val: string,
  }
  /**
   * The tool failed, or refused its arguments: its error, as text for the model.
   */
  export interface CalledFailed {
    tag: 'failed',
    val: string,
  }
  /**
   * It needs approval first; nothing ran.
   */
  export interface CalledPending {
    tag: 'pending',
    val: Approval,
  }
  /**
   * A person's answer to an approval.
   * # Variants
   * 
   * ## `"allow-once"`
   * 
   * ## `"allow-conversation"`
   * 
   * ## `"deny"`
   */
  export type Decision = 'allow-once' | 'allow-conversation' | 'deny';
  /**
   * What settling did.
   */
  export type Settlement = SettlementRan | SettlementDenied | SettlementRefused;
  /**
   * Allowed: the call ran now; its outcome.
   */
  export interface SettlementRan {
    tag: 'ran',
    val: Called,
  }
  /**
   * Denied (by a person, or expired): nothing ran. Says by whom or why.
   */
  export interface SettlementDenied {
    tag: 'denied',
    val: string,
  }
  /**
   * Not settled: the presser may not approve, it is unknown or already
   * settled. Says which; nothing changed.
   */
  export interface SettlementRefused {
    tag: 'refused',
    val: string,
  }
}
