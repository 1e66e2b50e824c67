/**
 * Replies through the session webhook of the message being answered.
 *
 * The host sends the request to the webhook of the frame being handled (a plugin
 * cannot name another), and only before it expires. Every function takes the
 * message it answers, so a call reads as what it does; the host needs nothing of it
 * but the frame it already has.
 */

import * as witImports from "dingtalk:bot/reply@0.3.0";
import type { ActionCardContent, FeedLink, LinkContent } from "dingtalk:bot/reply@0.3.0";

import { gated } from "./gate.js";
import { hostCall } from "./errors.js";
import type { ChatbotMessage } from "./message.js";

const wit = gated(witImports);

export type { ActionButton, ActionCardContent, FeedLink, LinkContent } from "dingtalk:bot/reply@0.3.0";

/** Whom a reply mentions. */
export class At {
  constructor(
    readonly userIds: string[] = [],
    readonly mobiles: string[] = [],
    readonly all = false,
  ) {}

  static nobody(): At {
    return new At();
  }

  static users(ids: Iterable<string>): At {
    return new At([...ids]);
  }

  /** The sender of `msg` (when DingTalk told us their staff id). */
  static sender(msg: ChatbotMessage): At {
    return At.users(msg.senderStaffId ? [msg.senderStaffId] : []);
  }

  static everyone(): At {
    return new At([], [], true);
  }

  /** The WIT record. */
  toWit(): witImports.At {
    return { userIds: this.userIds, mobiles: this.mobiles, all: this.all };
  }
}

/** Reply `content` as text, mentioning `at`. */
export function text(_msg: ChatbotMessage, content: string, at: At): void {
  hostCall(wit.text, content, at.toWit());
}

/** Reply markdown (`title` shows in notifications), mentioning `at`. */
export function markdown(_msg: ChatbotMessage, title: string, markdownText: string, at: At): void {
  hostCall(wit.markdown, title, markdownText, at.toWit());
}

/** Reply `content` as text to `msg`'s conversation, mentioning its sender. */
export function replyText(msg: ChatbotMessage, content: string): void {
  text(msg, content, At.sender(msg));
}

/** Reply markdown to `msg`'s conversation, mentioning its sender. */
export function replyMarkdown(msg: ChatbotMessage, title: string, markdownText: string): void {
  markdown(msg, title, markdownText, At.sender(msg));
}

/** Reply an action card (one full-width button, or several). */
export function actionCard(_msg: ChatbotMessage, card: ActionCardContent): void {
  hostCall(wit.actionCard, card);
}

/** Reply a link preview. */
export function link(_msg: ChatbotMessage, content: LinkContent): void {
  hostCall(wit.link, content);
}

/** Reply a feed card. */
export function feedCard(_msg: ChatbotMessage, links: FeedLink[]): void {
  hostCall(wit.feedCard, links);
}
