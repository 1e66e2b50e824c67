// jscalc: calcbot in JavaScript, for messages that start with `js`.
//
// `js 2*(3+4)` is answered `Q: 2*(3+4)\nA: 14`, exactly as calcbot answers `2*(3+4)`.
// Other messages are left to the other plugins, so jscalc and calcbot served side by
// side never answer one message twice.
import { Plugin, replyText } from "dingtalk-bot";

import { answer } from "./calc.js";

// Warmed up at build with a sum, so the calculator's code is already compiled in every fresh instance.
const bot = new Plugin("jscalc", "0.1.0").warmUp(["js 2*(3+4)"]);

bot.onMessage((msg) => {
  const text = msg.textContent();
  if (text === undefined || !(text === "js" || text.startsWith("js "))) return;
  replyText(msg, answer(text.slice(2)));
});

export default bot;
