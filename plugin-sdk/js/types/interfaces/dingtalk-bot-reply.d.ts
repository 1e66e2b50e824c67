/// <reference path="./dingtalk-bot-types.d.ts" />
declare module 'dingtalk:bot/reply@0.3.0' {
  /**
   * Send a text message.
   */
  export function text(content: string, at: At): void;
  /**
   * Send a markdown message with a title (shown in notifications).
   */
  export function markdown(title: string, text: string, at: At): void;
  /**
   * Send an action card.
   */
  export function actionCard(card: ActionCardContent): void;
  /**
   * Send a link.
   */
  export function link(link: LinkContent): void;
  /**
   * Send a feed card.
   */
  export function feedCard(links: Array<FeedLink>): void;
  export type Error = import('dingtalk:bot/types@0.3.0').Error;
  /**
   * Whom a reply mentions.
   */
  export interface At {
    /**
     * Staff ids (`senderStaffId`) to mention.
     */
    userIds: Array<string>,
    /**
     * Phone numbers to mention.
     */
    mobiles: Array<string>,
    /**
     * Mention everyone in the group.
     */
    all: boolean,
  }
  /**
   * A button of an action card.
   */
  export interface ActionButton {
    title: string,
    actionUrl: string,
  }
  /**
   * A markdown card with one button (`single`) or several (`buttons`).
   */
  export interface ActionCardContent {
    title: string,
    /**
     * Markdown.
     */
    text: string,
    /**
     * One full-width button; when set, `buttons` is ignored.
     */
    single?: ActionButton,
    buttons: Array<ActionButton>,
    /**
     * Stack `buttons` vertically instead of side by side.
     */
    vertical: boolean,
  }
  /**
   * A link preview.
   */
  export interface LinkContent {
    title: string,
    text: string,
    messageUrl: string,
    picUrl: string,
  }
  /**
   * One entry of a feed card.
   */
  export interface FeedLink {
    title: string,
    messageUrl: string,
    picUrl: string,
  }
}
