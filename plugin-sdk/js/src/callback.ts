/**
 * Card callbacks and their answers: pure data, apart from the host calls of
 * `cards`, so the shared vectors (`card-callbacks.json`) test them with plain Node.
 */

/** The topic of card callbacks (`plugin.onCallback(cards.CALLBACK_TOPIC, …)`). */
export const CALLBACK_TOPIC = "/v1.0/card/instances/callback";

type Raw = Record<string, unknown>;

const isObject = (v: unknown): v is Raw => v !== null && typeof v === "object" && !Array.isArray(v);

/** A field DingTalk sends as a JSON string (or already parsed); empty or missing is `{}`. */
function jsonField(name: string, v: unknown): unknown {
  if (v === undefined || v === null) return {};
  if (typeof v !== "string") return v;
  if (v.trim() === "") return {};
  try {
    return JSON.parse(v);
  } catch (e) {
    throw new TypeError(`card callback ${name} is not JSON: ${(e as Error).message}`);
  }
}

const KNOWN = new Set(["outTrackId", "userId", "corpId", "type", "spaceType", "spaceId", "content", "extension"]);

/** The `data` of a card callback, the pressed action's ids and parameters lifted out. */
export class CardCallback {
  /** The card instance's outTrackId. */
  outTrackId = "";
  /** Who pressed. */
  userId = "";
  /** Their organisation. */
  corpId = "";
  /** e.g. `actionCallback`. */
  type = "";
  /** e.g. `im`. */
  spaceType = "";
  /** The conversation. */
  spaceId = "";
  /** Ids of the components pressed. */
  actionIds: string[] = [];
  /** Their parameters. */
  params: Record<string, unknown> = {};
  /** The `extension` JSON string, decoded (`{}` when empty). */
  extension: unknown = {};
  /** Every other field, as sent. */
  extra: Record<string, unknown> = {};

  /** Decode a callback's data (a JSON object). */
  static fromData(data: unknown): CardCallback {
    if (!isObject(data)) throw new TypeError("a card callback is a JSON object");
    const cb = new CardCallback();
    const text = (k: string) => (typeof data[k] === "string" ? (data[k] as string) : "");
    cb.outTrackId = text("outTrackId");
    cb.userId = text("userId");
    cb.corpId = text("corpId");
    cb.type = text("type");
    cb.spaceType = text("spaceType");
    cb.spaceId = text("spaceId");
    const content = jsonField("content", data.content);
    const priv = isObject(content) && isObject(content.cardPrivateData) ? content.cardPrivateData : {};
    cb.actionIds = Array.isArray(priv.actionIds) ? priv.actionIds.filter((i): i is string => typeof i === "string") : [];
    cb.params = isObject(priv.params) ? priv.params : {};
    cb.extension = jsonField("extension", data.extension);
    for (const [k, v] of Object.entries(data)) if (!KNOWN.has(k)) cb.extra[k] = v;
    return cb;
  }
}

/** A JSON scalar as text, the way every SDK turns a parameter into a string. */
const plain = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));

/**
 * The answer to a card callback: new public card data and private data for the user
 * who pressed. Every value is sent as a string, as DingTalk requires.
 */
export class CardUpdate {
  private card: Record<string, string> = {};
  private priv: Record<string, string> = {};

  /** Set a public card variable. */
  cardParam(key: string, value: unknown): this {
    this.card[key] = plain(value);
    return this;
  }

  /** Set a variable only the pressing user sees. */
  privateParam(key: string, value: unknown): this {
    this.priv[key] = plain(value);
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
