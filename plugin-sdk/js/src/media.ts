/**
 * Upload files to DingTalk (to get a media id for cards and markdown) and download
 * the files users sent to the robot.
 */

import * as witImports from "dingtalk:bot/media@0.3.0";
import type { MediaKind } from "dingtalk:bot/media@0.3.0";

import { gated } from "./gate.js";
import { hostCall } from "./errors.js";

const wit = gated(witImports);

export type { MediaKind } from "dingtalk:bot/media@0.3.0";

/**
 * Upload `bytes` as `filename`; the media id (`@…`). The host checks DingTalk's type
 * and size limits first and says which one failed.
 */
export function upload(kind: MediaKind, filename: string, bytes: Uint8Array): string {
  return hostCall(wit.upload, kind, filename, bytes);
}

/** Download a file of the message being handled, refusing more than `maxBytes`. */
export function download(downloadCode: string, maxBytes: number): Uint8Array {
  return hostCall(wit.download, downloadCode, BigInt(maxBytes));
}
