/**
 * A chatbot message as DingTalk pushes it (protocol.md C.2), decoded once.
 *
 * Every documented field is a property with DingTalk's own (camelCase) name; fields
 * DingTalk adds later stay in `extra`. The same shape as the Rust and Python SDKs'
 * `ChatbotMessage`.
 */

/** Someone the message @-mentions. */
export interface AtUser {
  dingtalkId: string;
  staffId?: string;
}

const KNOWN = new Set([
  "msgtype", "msgId", "createAt", "conversationType", "conversationId", "senderId",
  "senderNick", "sessionWebhook", "sessionWebhookExpiredTime", "chatbotUserId",
  "robotCode", "text", "content", "conversationTitle", "senderStaffId", "senderCorpId",
  "senderPlatform", "isAdmin", "isInAtList", "atUsers", "chatbotCorpId", "openThreadId",
  "hostingContext", "conversationMsgContext",
]);

/** One message sent to the robot. */
export class ChatbotMessage {
  msgtype = "";
  msgId = "";
  createAt = 0;
  /** `"1"`: a 1:1 chat; `"2"`: a group. */
  conversationType = "1";
  conversationId = "";
  senderId = "";
  senderNick = "";
  sessionWebhook = "";
  sessionWebhookExpiredTime = 0;
  chatbotUserId = "";
  robotCode = "";
  /** The text of a text message, as sent (see `textContent()`). */
  text?: string;
  /** The content of picture, richText, file, audio and video messages. */
  content?: unknown;
  conversationTitle?: string;
  senderStaffId?: string;
  senderCorpId?: string;
  senderPlatform?: string;
  isAdmin?: boolean;
  isInAtList?: boolean;
  atUsers: AtUser[] = [];
  chatbotCorpId?: string;
  openThreadId?: string;
  hostingContext?: Record<string, unknown>;
  conversationMsgContext: Record<string, unknown>[] = [];
  /** Fields this SDK does not know yet. */
  extra: Record<string, unknown> = {};

  /** Decode a frame's `data` (text or already parsed). */
  static fromJson(data: string | Record<string, unknown>): ChatbotMessage {
    const raw = typeof data === "string" ? JSON.parse(data) : data;
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
      throw new TypeError("a chatbot message is a JSON object");
    }
    for (const required of ["msgtype", "sessionWebhook"]) {
      if (typeof raw[required] !== "string") {
        throw new TypeError(`a chatbot message needs ${required}`);
      }
    }
    const msg = new ChatbotMessage();
    const fields = msg as unknown as Record<string, unknown>;
    for (const [key, value] of Object.entries(raw)) {
      if (!KNOWN.has(key)) {
        msg.extra[key] = value;
      } else if (key === "text") {
        const content = (value as { content?: unknown } | null)?.content;
        msg.text = typeof content === "string" ? content : undefined;
      } else if (key === "atUsers") {
        msg.atUsers = ((value as Record<string, unknown>[] | null) ?? []).map((u) => ({
          dingtalkId: String(u.dingtalkId ?? ""),
          staffId: typeof u.staffId === "string" ? u.staffId : undefined,
        }));
      } else if (value !== null && value !== undefined) {
        fields[key] = value;
      }
    }
    return msg;
  }

  /** The text of a text message, trimmed; `undefined` for other message types. */
  textContent(): string | undefined {
    return this.msgtype === "text" ? this.text?.trim() : undefined;
  }

  /** Whether it was sent in a group (else a 1:1 chat). */
  isGroup(): boolean {
    return this.conversationType === "2";
  }
}
