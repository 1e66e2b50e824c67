/** Config values the operator set for this plugin (`[plugins.<name>.config]`). */

import * as wit from "dingtalk:bot/config@0.3.0";

export function get(key: string): string | undefined {
  return wit.get(key);
}
