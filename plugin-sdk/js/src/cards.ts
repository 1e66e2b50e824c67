/**
 * Interactive cards: StandardCards sent to the conversation of the message being
 * handled, card instances of advanced templates, and the card callbacks DingTalk
 * pushes when a user presses a button.
 */

import * as witImports from "dingtalk:bot/cards@0.3.0";

import { gated } from "./gate.js";
import { hostCall } from "./errors.js";

const wit = gated(witImports);

export { CALLBACK_TOPIC, CardCallback, CardUpdate } from "./callback.js";

/**
 * Send a StandardCard (its JSON object) to the conversation of the message being
 * handled; DingTalk's processQueryKey. Keep `cardBizId` to update it.
 */
export function sendStandard(cardBizId: string, card: object): string {
  return hostCall(wit.sendStandard, cardBizId, JSON.stringify(card));
}

/** Replace the data of a StandardCard sent earlier. */
export function updateStandard(cardBizId: string, card: object): void {
  hostCall(wit.updateStandard, cardBizId, JSON.stringify(card));
}

/** An instance of an advanced card template. */
export interface CardInstance {
  templateId: string;
  /** Your id for this instance; later calls and callbacks use it. */
  outTrackId: string;
  /** The card's variables; non-string values are sent JSON-encoded. */
  params: Record<string, unknown>;
  /** Callbacks go over HTTP to this route key; by default over the Stream connection. */
  callbackRouteKey?: string;
}

function toWit(card: CardInstance): witImports.CardInstance {
  return {
    templateId: card.templateId,
    outTrackId: card.outTrackId,
    params: JSON.stringify(card.params),
    callbackRouteKey: card.callbackRouteKey,
  };
}

/** Create a card instance (not yet shown). */
export function createInstance(card: CardInstance): void {
  hostCall(wit.createInstance, toWit(card));
}

/** Show a created instance in the conversation of the message being handled. */
export function deliverInstance(outTrackId: string): void {
  hostCall(wit.deliverInstance, outTrackId);
}

/** Create an instance and show it in the conversation of the message being handled. */
export function createAndDeliver(card: CardInstance): void {
  hostCall(wit.createAndDeliver, toWit(card));
}

/**
 * Update an instance's variables (only the given keys with `byKey`), and optionally
 * per-user private variables (`{"<userId>": {..}}`).
 */
export function updateInstance(
  outTrackId: string,
  params: Record<string, unknown>,
  privateParams?: Record<string, unknown>,
  byKey = true,
): void {
  const priv = privateParams === undefined ? undefined : JSON.stringify(privateParams);
  hostCall(wit.updateInstance, outTrackId, JSON.stringify(params), priv, byKey);
}

/** How a streaming update applies. */
export interface StreamMode {
  /** Replace the variable instead of appending. */
  full?: boolean;
  /** End the stream. */
  finalize?: boolean;
  /** Show the failed state. */
  failed?: boolean;
}

/** Stream `content` into variable `key` of an AI card instance. */
export function streamInstance(outTrackId: string, key: string, content: string, mode: StreamMode = {}): void {
  const flags: witImports.StreamMode = {
    full: mode.full ?? false,
    finalize: mode.finalize ?? false,
    failed: mode.failed ?? false,
  };
  hostCall(wit.streamInstance, outTrackId, key, content, flags);
}
