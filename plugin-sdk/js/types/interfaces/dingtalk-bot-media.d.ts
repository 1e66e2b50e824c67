/// <reference path="./dingtalk-bot-types.d.ts" />
declare module 'dingtalk:bot/media@0.3.0' {
  /**
   * Upload `bytes` as `filename`; returns the media id (`@…`), usable in cards
   * and markdown as an image URL. The name is at most 255 bytes, with an extension
   * of the kind, and no control characters, quotes, slashes or backslashes.
   */
  export function upload(kind: MediaKind, filename: string, bytes: Uint8Array): string;
  /**
   * Download a file of the message being handled (its `downloadCode`, at most 4096
   * bytes), at most `max-bytes`; never more than the plugin's memory limit.
   * 
   * The result is at most min(`max-bytes`, memory limit, the plugin's host-buffer
   * budget: 64 MiB for all its frames together, `[limits] host_buffer_mib`)
   * bytes; a file declared larger is refused (`network`) before its body is read.
   * Its declared size (else that bound) is held from the budget while it is read
   * and handed over, so concurrent downloads wait for their share.
   */
  export function download(downloadCode: string, maxBytes: bigint): Uint8Array;
  export type Error = import('dingtalk:bot/types@0.3.0').Error;
  /**
   * DingTalk's media kinds, each with its own size and type limits.
   * # Variants
   * 
   * ## `"image"`
   * 
   * jpg, gif, png, bmp; at most 20 MB.
   * ## `"voice"`
   * 
   * amr, mp3, wav; at most 2 MB.
   * ## `"video"`
   * 
   * mp4; at most 20 MB.
   * ## `"file"`
   * 
   * doc, docx, xls, xlsx, ppt, pptx, zip, pdf, rar; at most 20 MB.
   */
  export type MediaKind = 'image' | 'voice' | 'video' | 'file';
}
