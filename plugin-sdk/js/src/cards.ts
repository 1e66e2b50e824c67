/**
 * Interactive cards: StandardCards sent to the conversation of the message being
 * handled, card instances of advanced templates, and the card callbacks DingTalk
 * pushes when a user presses a button.
 */

import * as wit from "dingtalk:bot/cards@0.3.0";

import { hostCall } from "./errors.js";

/** The topic of card callbacks (`plugin.onCallback(CARD_CALLBACK_TOPIC, …)`). */
export const CARD_CALLBACK_TOPIC = "/v1.0/card/instances/callback";

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

function toWit(card: CardInstance): wit.CardInstance {
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
  const flags: wit.StreamMode = {
    full: mode.full ?? false,
    finalize: mode.finalize ?? false,
    failed: mode.failed ?? false,
  };
  hostCall(wit.streamInstance, outTrackId, key, content, flags);
}

/** The `data` of a card callback, its JSON-string fields decoded. */
export interface CardCallback {
  outTrackId: string;
  userId: string;
  corpId: string;
  /** e.g. `actionCallback`. */
  type: string;
  spaceType: string;
  spaceId: string;
  /** What was pressed. */
  content: { cardPrivateData: { actionIds: string[]; params: Record<string, unknown> } };
  extension: unknown;
  /** Every field as sent. */
  raw: Record<string, unknown>;
}

/** Decode a card callback's `data`. */
export function parseCallback(data: Record<string, unknown>): CardCallback {
  const str = (v: unknown) => (typeof v === "string" ? v : "");
  const json = (v: unknown): unknown => (typeof v === "string" ? (v === "" ? {} : JSON.parse(v)) : (v ?? {}));
  const content = json(data.content) as { cardPrivateData?: { actionIds?: string[]; params?: Record<string, unknown> } };
  return {
    outTrackId: str(data.outTrackId),
    userId: str(data.userId),
    corpId: str(data.corpId),
    type: str(data.type),
    spaceType: str(data.spaceType),
    spaceId: str(data.spaceId),
    content: {
      cardPrivateData: {
        actionIds: content.cardPrivateData?.actionIds ?? [],
        params: content.cardPrivateData?.params ?? {},
      },
    },
    extension: json(data.extension),
    raw: data,
  };
}

/**
 * The answer to a card callback: new public card data and private data for the user
 * who pressed. Every value is sent as a string, as DingTalk requires.
 */
export class CardUpdate {
  private card: Record<string, string> = {};
  private priv: Record<string, string> = {};

  /** Set a public card variable. */
  cardParam(key: string, value: unknown): this {
    this.card[key] = String(value);
    return this;
  }

  /** Set a variable only the pressing user sees. */
  privateParam(key: string, value: unknown): this {
    this.priv[key] = String(value);
    return this;
  }

  /** The JSON DingTalk expects in the ACK's `response` (return it from the handler). */
  toJSON(): object {
    return {
      cardUpdateOptions: { updateCardDataByKey: true, updatePrivateDataByKey: true },
      cardData: { cardParamMap: this.card },
      userPrivateData: { cardParamMap: this.priv },
    };
  }
}
