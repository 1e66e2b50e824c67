// Test fixture: a JavaScript plugin that tries what the sandbox forbids and says what
// happened. Commands: fs, import, env, socket, http <url>, sse <url>, loop, timers,
// memory, raise, warmed. (`http` and `sse` to a granted origin show that fetch works.)
// `hello` is the build-time warm-up's message: what it did is in the snapshot, and
// `warmed` tells it.
import { Plugin, log, replyText, sse } from "dingtalk-bot";

const bot = new Plugin("jshostile", "0.1.0");

let warmedUp = "never";

async function attempt(f) {
  try {
    return `allowed: ${String(await f())}`.slice(0, 200);
  } catch (e) {
    return `refused: ${e?.name ?? typeof e}`;
  }
}

bot.onMessage(async (msg) => {
  const [command = "", arg] = (msg.textContent() ?? "").split(/\s+/);
  let answer;
  switch (command) {
    case "fs":
      answer = [
        await attempt(async () => (await fetch("file:///etc/passwd")).text()),
        await attempt(() => globalThis.require(["f", "s"].join("")).readFileSync("/etc/passwd", "utf8")),
      ].join(" | ");
      break;
    case "import":
      // A module the bundle does not hold: StarlingMonkey traps, which fails the frame.
      answer = await attempt(async () => (await import(["node", "fs"].join(":"))).readFileSync("/etc/passwd"));
      break;
    case "env":
      answer = `env: ${JSON.stringify(Object.keys(globalThis.process?.env ?? {}))}`;
      break;
    case "socket":
      answer = await attempt(() => new WebSocket("ws://127.0.0.1:22/"));
      break;
    case "http":
      answer = await attempt(async () => (await fetch(arg)).status);
      break;
    case "sse": {
      const events = [];
      for await (const event of sse(await fetch(arg))) events.push(event.data);
      answer = `sse: ${events.join("|")}`;
      break;
    }
    case "loop":
      for (;;) {}
    case "timers":
      // Work between waits: the CPU budget sees little of it, the wall clock all.
      for (;;) await new Promise((resolve) => setTimeout(resolve, 50));
    case "memory": {
      const hog = [];
      for (;;) hog.push(new Uint8Array(1 << 20).fill(1));
    }
    case "raise":
      throw new Error("on purpose");
    case "hello":
      warmedUp = "ran";
      try {
        log.info("a host call from the warm-up");
        warmedUp = "ran, and a host call went through";
      } catch (e) {
        warmedUp = `ran, a host call refused: ${e?.name}`;
      }
      answer = "hello";
      break;
    case "warmed":
      answer = `warm-up: ${warmedUp}`;
      break;
    default:
      answer = "commands: fs, import, env, socket, http <url>, sse <url>, loop, timers, memory, raise, warmed";
  }
  replyText(msg, answer);
});

export default bot;
