/** Config values the operator set for this plugin (`[plugins.<name>.config]`). */

import * as witImports from "dingtalk:bot/config@0.3.0";

import { gated } from "./gate.js";

const wit = gated(witImports);

export function get(key: string): string | undefined {
  return wit.get(key);
}
