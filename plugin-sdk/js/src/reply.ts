/**
 * Replies through the session webhook of the message being answered.
 *
 * The host sends the request; it accepts only webhooks DingTalk handed it in a frame,
 * and only before they expire.
 */

import * as wit from "dingtalk:bot/reply@0.2.0";
import type { ActionCardContent, FeedLink, LinkContent } from "dingtalk:bot/reply@0.2.0";

import { hostCall } from "./errors.js";
import type { ChatbotMessage } from "./message.js";

export type { ActionButton, ActionCardContent, FeedLink, LinkContent } from "dingtalk:bot/reply@0.2.0";

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
  toWit(): wit.At {
    return { userIds: this.userIds, mobiles: this.mobiles, all: this.all };
  }
}

/** Reply `content` as text, mentioning `at`. */
export function text(msg: ChatbotMessage, content: string, at: At): void {
  hostCall(wit.text, msg.sessionWebhook, content, at.toWit());
}

/** Reply markdown (`title` shows in notifications), mentioning `at`. */
export function markdown(msg: ChatbotMessage, title: string, markdownText: string, at: At): void {
  hostCall(wit.markdown, msg.sessionWebhook, title, markdownText, at.toWit());
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
export function actionCard(msg: ChatbotMessage, card: ActionCardContent): void {
  hostCall(wit.actionCard, msg.sessionWebhook, card);
}

/** Reply a link preview. */
export function link(msg: ChatbotMessage, content: LinkContent): void {
  hostCall(wit.link, msg.sessionWebhook, content);
}

/** Reply a feed card. */
export function feedCard(msg: ChatbotMessage, links: FeedLink[]): void {
  hostCall(wit.feedCard, msg.sessionWebhook, links);
}
