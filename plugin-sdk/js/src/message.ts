/**
 * A chatbot message as DingTalk pushes it (protocol.md C.2), decoded once.
 *
 * Every field of `plugin-sdk/conformance/message-schema.json` is a property with
 * DingTalk's own (camelCase) name; fields DingTalk adds later stay in `extra`. The
 * same fields, defaults and `body()` as the Rust and Python SDKs, held to the shared
 * vectors (`messages.json`).
 */

/** Someone the message @-mentions. */
export interface AtUser {
  dingtalkId: string;
  staffId?: string;
}

/** Whom a delegate robot acts for. */
export interface HostingContext {
  userId: string;
  nick: string;
}

/** One recent message of a delegate conversation. */
export interface ConversationMsg {
  readStatus: string;
  senderUserId: string;
  sendTime: number;
}

/** One item of a rich-text message. */
export type RichTextItem = { kind: "text"; text: string } | { kind: "picture"; downloadCode: string };

/** The body of a message, typed by `msgtype`. */
export type MessageBody =
  | { kind: "text"; text: string }
  | { kind: "picture"; downloadCode: string }
  | { kind: "richText"; items: RichTextItem[] }
  | { kind: "audio"; downloadCode: string; duration?: number; recognition?: string }
  | { kind: "video"; downloadCode: string; duration?: number; videoType?: string }
  | { kind: "file"; downloadCode: string; fileName: string; fileId?: string; spaceId?: string }
  | { kind: "other"; msgtype: string; content?: unknown };

type Raw = Record<string, unknown>;

const isObject = (v: unknown): v is Raw => v !== null && typeof v === "object" && !Array.isArray(v);

function str(raw: Raw, key: string): string | undefined {
  const v = raw[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new TypeError(`chatbot message ${key} is not a string`);
  return v;
}

function bool(raw: Raw, key: string): boolean | undefined {
  const v = raw[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") throw new TypeError(`chatbot message ${key} is not a boolean`);
  return v;
}

/** Milliseconds: a number, or (as DingTalk documents some) a string of one. */
function millis(v: unknown, key: string): number {
  if (v === undefined || v === null) return 0;
  const n = typeof v === "string" && v.trim() !== "" ? Number(v.trim()) : v;
  if (typeof n !== "number" || !Number.isInteger(n)) throw new TypeError(`chatbot message ${key} is not a number`);
  return n;
}

const maybeNumber = (v: unknown): number | undefined => {
  const n = typeof v === "string" && v.trim() !== "" ? Number(v.trim()) : v;
  return typeof n === "number" && Number.isInteger(n) ? n : undefined;
};
const maybeString = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

const KNOWN = new Set([
  "msgtype", "msgId", "createAt", "conversationType", "conversationId", "conversationTitle",
  "senderId", "senderNick", "senderStaffId", "senderCorpId", "senderPlatform", "sessionWebhook",
  "sessionWebhookExpiredTime", "isAdmin", "isInAtList", "atUsers", "chatbotUserId",
  "chatbotCorpId", "robotCode", "openThreadId", "text", "content", "hostingContext",
  "conversationMsgContext",
]);

/** One message sent to the robot. */
export class ChatbotMessage {
  /** `text`, `picture`, `richText`, `audio`, `video`, `file`, or something newer. */
  msgtype = "";
  /** Unique message id: the key for de-duplicating re-pushed messages. */
  msgId = "";
  /** When it was sent, epoch milliseconds. */
  createAt = 0;
  /** `"1"`: a 1:1 chat; `"2"`: a group. */
  conversationType = "";
  /** The conversation; for groups, its openConversationId. */
  conversationId = "";
  /** The group's name (groups only). */
  conversationTitle?: string;
  /** The sender, encrypted (`$:LWCP_v1:$…`). */
  senderId = "";
  /** The sender's display name. */
  senderNick = "";
  /** The sender's userId in the organisation (internal users only). */
  senderStaffId?: string;
  /** The sender's organisation. */
  senderCorpId?: string;
  /** `Mac`, `Win`, … as observed. */
  senderPlatform?: string;
  /** Where replies to this message go. */
  sessionWebhook = "";
  /** Epoch milliseconds after which the session webhook is refused. */
  sessionWebhookExpiredTime = 0;
  /** Whether the sender is an admin. */
  isAdmin?: boolean;
  /** Whether the robot was @-mentioned (groups). */
  isInAtList?: boolean;
  /** Users mentioned in the message (groups). */
  atUsers: AtUser[] = [];
  /** The robot's own user id. */
  chatbotUserId = "";
  /** The robot's organisation. */
  chatbotCorpId?: string;
  /** The robot's code; the app's client id for internal apps. */
  robotCode = "";
  /** The thread; equals the conversation id in 1:1 chats. */
  openThreadId?: string;
  /** The text of a text message (`text.content`), as sent (see `textContent()`). */
  text?: string;
  /** The content of picture, richText, file, audio and video messages, raw. */
  content?: unknown;
  /** Whom a delegate robot acts for (delegate topic). */
  hostingContext?: HostingContext;
  /** Recent messages of the conversation (delegate topic). */
  conversationMsgContext: ConversationMsg[] = [];
  /** Fields this SDK does not know yet, as sent. */
  extra: Record<string, unknown> = {};

  /** Decode a frame's `data` (text or already parsed): an object with a string `msgtype`. */
  static fromJson(data: string | Raw): ChatbotMessage {
    const raw: unknown = typeof data === "string" ? JSON.parse(data) : data;
    if (!isObject(raw)) throw new TypeError("a chatbot message is a JSON object");
    const m = new ChatbotMessage();
    const msgtype = str(raw, "msgtype");
    if (msgtype === undefined) throw new TypeError("a chatbot message needs a msgtype");
    m.msgtype = msgtype;
    m.msgId = str(raw, "msgId") ?? "";
    m.createAt = millis(raw.createAt, "createAt");
    m.conversationType = str(raw, "conversationType") ?? "";
    m.conversationId = str(raw, "conversationId") ?? "";
    m.conversationTitle = str(raw, "conversationTitle");
    m.senderId = str(raw, "senderId") ?? "";
    m.senderNick = str(raw, "senderNick") ?? "";
    m.senderStaffId = str(raw, "senderStaffId");
    m.senderCorpId = str(raw, "senderCorpId");
    m.senderPlatform = str(raw, "senderPlatform");
    m.sessionWebhook = str(raw, "sessionWebhook") ?? "";
    m.sessionWebhookExpiredTime = millis(raw.sessionWebhookExpiredTime, "sessionWebhookExpiredTime");
    m.isAdmin = bool(raw, "isAdmin");
    m.isInAtList = bool(raw, "isInAtList");
    m.chatbotUserId = str(raw, "chatbotUserId") ?? "";
    m.chatbotCorpId = str(raw, "chatbotCorpId");
    m.robotCode = str(raw, "robotCode") ?? "";
    m.openThreadId = str(raw, "openThreadId");
    m.text = isObject(raw.text) ? maybeString(raw.text.content) : undefined;
    m.content = raw.content ?? undefined;
    const users = Array.isArray(raw.atUsers) ? raw.atUsers.filter(isObject) : [];
    m.atUsers = users.map((u) => ({ dingtalkId: maybeString(u.dingtalkId) ?? "", staffId: maybeString(u.staffId) }));
    if (isObject(raw.hostingContext)) {
      const h = raw.hostingContext;
      m.hostingContext = { userId: maybeString(h.userId) ?? "", nick: maybeString(h.nick) ?? "" };
    }
    const recent = Array.isArray(raw.conversationMsgContext) ? raw.conversationMsgContext.filter(isObject) : [];
    m.conversationMsgContext = recent.map((c) => ({
      readStatus: maybeString(c.readStatus) ?? "",
      senderUserId: maybeString(c.senderUserId) ?? "",
      sendTime: millis(c.sendTime, "conversationMsgContext.sendTime"),
    }));
    for (const [key, value] of Object.entries(raw)) {
      if (!KNOWN.has(key)) m.extra[key] = value;
    }
    return m;
  }

  /** The text of a text message, trimmed; `undefined` for other message types. */
  textContent(): string | undefined {
    return this.msgtype === "text" ? this.text?.trim() : undefined;
  }

  /** Whether it was sent in a group (else a 1:1 chat). */
  isGroup(): boolean {
    return this.conversationType === "2";
  }

  /** The body, typed by `msgtype`. */
  body(): MessageBody {
    const c = isObject(this.content) ? this.content : {};
    const code = maybeString(c.downloadCode) ?? "";
    switch (this.msgtype) {
      case "text":
        return { kind: "text", text: this.textContent() ?? "" };
      case "picture":
        return { kind: "picture", downloadCode: code };
      case "richText": {
        const items: RichTextItem[] = [];
        for (const item of Array.isArray(c.richText) ? c.richText.filter(isObject) : []) {
          if (typeof item.text === "string") items.push({ kind: "text", text: item.text });
          else if (typeof item.downloadCode === "string") items.push({ kind: "picture", downloadCode: item.downloadCode });
        }
        return { kind: "richText", items };
      }
      case "audio":
        return { kind: "audio", downloadCode: code, duration: maybeNumber(c.duration), recognition: maybeString(c.recognition) };
      case "video":
        return { kind: "video", downloadCode: code, duration: maybeNumber(c.duration), videoType: maybeString(c.videoType) };
      case "file":
        return {
          kind: "file",
          downloadCode: code,
          fileName: maybeString(c.fileName) ?? "",
          fileId: maybeString(c.fileId),
          spaceId: maybeString(c.spaceId),
        };
      default:
        return { kind: "other", msgtype: this.msgtype, content: this.content };
    }
  }
}
