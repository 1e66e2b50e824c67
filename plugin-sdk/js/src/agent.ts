/**
 * An agent: a model that calls the tools the operator granted, through the host,
 * until it answers, with every step on one AI card: the Rust SDK's `ai::agent` loop
 * (plugin-sdk/CONCEPTS.md), the same card lines, buttons and bounds.
 *
 * The loop (`Agent.answer`): ask the model (streamed, with the granted tools and
 * `stream_options.include_usage`), accumulate its `tool_calls` by index (every
 * dialect, `tool-stream.json`), run each call through `tools.call`, send the results
 * back, and repeat until the model answers; the answer streams into the card below
 * the steps. DeepSeek's `reasoning_content` is sent back on every tool turn.
 *
 * The host keeps the bounds: a tool the grant does not list is refused, and past a
 * turn's bound a call throws `limit`; the loop also stops before a model round past
 * `model_rounds_per_turn`. Each stop ends the turn with a plain sentence on the card.
 * Tool results are untrusted text for the model, never instructions to this loop.
 *
 * A call that needs approval ends the frame: its step shows "waiting", a card under
 * the AI card names the tool and its arguments with Allow once / Allow for this
 * conversation / Deny buttons, and the turn is saved in key-value state under the
 * approval's id. The press (`Agent.onCardCallback`) or `/approve <id>` / `/deny <id>`
 * (`Agent.command`) settles it through the host, which checks the person and runs
 * the call once; the turn then continues from where it stopped, in that frame.
 *
 * ```ts
 * const agent = new ai.Agent(new ai.ChatClient(baseUrl, model));
 * bot.onMessage(async (msg) => {
 *   const memory = new ai.Memory(msg, "sender", 10, 30 * 60_000);
 *   const question = msg.textContent() ?? "";
 *   if (await agent.command(msg, question)) return;
 *   await agent.answer(msg, memory, [{ role: "system", content: "Be brief." }, ...memory.load()], question);
 * });
 * bot.onCallback(cards.CALLBACK_TOPIC, (data) => agent.onCardCallback(cards.CardCallback.fromData(data)));
 * ```
 */

import { AI_CARD_TEMPLATE, AiCard, type ChatClient, type ChatStream, Memory, ModelError, PACING, type Pacing, type ToolCall } from "./ai.js";
import * as cards from "./cards.js";
import { type CardCallback, CardUpdate } from "./callback.js";
import { HostError } from "./errors.js";
import * as kv from "./kv.js";
import * as log from "./log.js";
import type { ChatbotMessage } from "./message.js";
import { replyText } from "./reply.js";
import * as tools from "./tools.js";

/** The prefix of an approval button's component id: `tool-approval:<decision>:<id>`. */
export const BUTTON_PREFIX = "tool-approval";

/** The most characters of a call's arguments a step line shows. */
const SHORT_ARGUMENTS = 60;

/** The most characters of arguments the approval card shows (the card's own limit is 64 KiB). */
const SHOWN_ARGUMENTS = 16 << 10;

/** How a step is doing. */
export type StepState = "running" | "ok" | "failed" | "waiting" | "denied";

/** One line of the card: a tool call, or the model's reasoning folded. */
export interface Step {
  /** `<plugin>.<tool>` (or the name the model used); empty for a reasoning line. */
  tool: string;
  /** The arguments, shortened; for a reasoning line, its first words. */
  detail: string;
  state: StepState;
  /** How long it took, in milliseconds. */
  ms: number;
}

function line(step: Step): string {
  if (step.tool === "") return `> 💭 ${step.detail}`;
  const state = {
    running: "running…",
    ok: `ok, ${step.ms} ms`,
    failed: `failed, ${step.ms} ms`,
    waiting: "waiting for approval",
    denied: "denied",
  }[step.state];
  return `- 🔧 \`${step.tool}\` \`${step.detail}\` — ${state}`;
}

/** The steps above the answer, as the card's markdown. */
export function render(steps: Step[], answer: string): string {
  if (steps.length === 0) return answer;
  return `${steps.map(line).join("\n")}\n\n---\n\n${answer}`;
}

function shorten(text: string, max: number): string {
  const flat = text.split(/\s+/).filter((w) => w !== "").join(" ");
  const chars = [...flat];
  return chars.length <= max ? flat : `${chars.slice(0, max).join("")}…`;
}

/** A turn in progress, saved while an approval waits. */
export interface Turn {
  /** The conversation so far, in OpenAI's message shape. */
  messages: object[];
  steps: Step[];
  /** Calls the model asked for that have not run yet. */
  queued: ToolCall[];
  /** The AI card. */
  outTrackId: string;
  /** The approval card (sent once per turn, updated for later approvals). */
  approvalCard: string | null;
  /** Where the exchange is remembered. */
  memory: { key: string; turns: number; ttlMs: number };
  /** The call waiting for a person, and its step. */
  waiting: [ToolCall, number] | null;
}

type Flow =
  | { kind: "answered"; text: string }
  | { kind: "waiting"; approval: tools.Approval }
  | { kind: "stopped"; why: string }
  | { kind: "failed"; why: string };

const savedKey = (approval: string) => `agent-turn:${approval}`;

function reason(e: unknown): string {
  return e instanceof HostError ? e.reason : e instanceof Error ? e.message : String(e);
}

/** An agent: its model, how it paces the card, the card's template. */
export class Agent {
  constructor(
    readonly client: ChatClient,
    /** Card pacing; `deadlineMs` bounds each model answer. */
    readonly pacing: Pacing = PACING,
    readonly template: string = AI_CARD_TEMPLATE,
  ) {}

  /** Answer `msg`, whose `question` follows `messages` (the system prompt and the
   * remembered exchanges): the question is remembered first, then the loop runs and
   * the answer is remembered. */
  async answer(msg: ChatbotMessage, memory: Memory, messages: object[], question: string): Promise<void> {
    try {
      memory.ask(question);
    } catch (e) {
      log.warn(`the question was not remembered: ${reason(e)}`);
    }
    const card = AiCard.start(msg, this.template);
    const turn: Turn = {
      messages: [...messages, { role: "user", content: question }],
      steps: [],
      queued: [],
      outTrackId: card.outTrackId,
      approvalCard: null,
      memory: { key: memory.key, turns: memory.turns, ttlMs: memory.ttlMs },
      waiting: null,
    };
    await this.drive(msg, card, turn);
  }

  /** Settle an approval from its card's button, as the person who pressed it; a
   * refusal is the callback's answer, shown to the presser only. `undefined` when the
   * press was not on an approval button. */
  async onCardCallback(cb: CardCallback): Promise<CardUpdate | null | undefined> {
    const pressed = cb.actionIds.map(parseButton).find((b) => b !== undefined);
    if (!pressed) return undefined;
    const refused = await this.settle(undefined, pressed.id, pressed.decision);
    return refused === undefined ? null : new CardUpdate().privateParam("notice", refused);
  }

  /** `/approve <id>`, `/approve-conversation <id>` or `/deny <id>`: settle as the
   * sender; whether `text` was such a command. */
  async command(msg: ChatbotMessage, text: string): Promise<boolean> {
    const [word, id] = text.split(/\s+/).filter((w) => w !== "");
    const decision = ({ "/approve": "allow-once", "/approve-conversation": "allow-conversation", "/deny": "deny" } as const)[word ?? ""];
    if (decision === undefined) return false;
    if (id === undefined) {
      replyText(msg, "Say which request: /approve <id> or /deny <id>.");
      return true;
    }
    const refused = await this.settle(msg, id, decision);
    if (refused !== undefined) replyText(msg, refused);
    return true;
  }

  /** Settle `id` through the host, then continue its turn; the refusal, if refused. */
  private async settle(msg: ChatbotMessage | undefined, id: string, decision: tools.Decision): Promise<string | undefined> {
    const outcome = tools.settle(id, decision);
    if (outcome.tag === "refused") return outcome.val;
    const called = outcome.tag === "ran" ? outcome.val : undefined;
    const note = outcome.tag === "denied" ? outcome.val : decision === "allow-conversation" ? "Allowed for this conversation." : "Allowed once.";
    const turn = kv.getJson<Turn>(savedKey(id));
    if (turn === undefined) {
      log.warn(`approval ${id} settled, but its turn is no longer saved`);
      return undefined;
    }
    kv.delete(savedKey(id));
    if (turn.approvalCard !== null) {
      try {
        cards.updateStandard(turn.approvalCard, settledCard(note));
      } catch (e) {
        log.warn(`the approval card was not updated: ${reason(e)}`);
      }
    }
    if (turn.waiting !== null) {
      const [call, step] = turn.waiting;
      turn.waiting = null;
      let content: string;
      if (called?.tag === "ok") {
        turn.steps[step].state = "ok";
        content = called.val;
      } else if (called?.tag === "failed") {
        turn.steps[step].state = "failed";
        content = JSON.stringify({ error: called.val });
      } else {
        turn.steps[step].state = "denied";
        content = JSON.stringify({ error: note });
      }
      turn.messages.push({ role: "tool", tool_call_id: call.id, content });
    }
    await this.drive(msg, AiCard.resume(turn.outTrackId), turn);
    return undefined;
  }

  /** Run the loop from `turn` and end it on the card. */
  private async drive(msg: ChatbotMessage | undefined, card: AiCard, turn: Turn): Promise<void> {
    let granted: tools.Tool[] = [];
    try {
      granted = tools.list();
    } catch (e) {
      log.warn(`the tools could not be listed: ${reason(e)}`);
    }
    const offered = granted.map((t) => {
      let parameters: unknown = { type: "object" };
      try {
        parameters = JSON.parse(t.parameters);
      } catch {
        // the host checked it at load; a model still gets an object schema
      }
      return { type: "function", function: { name: t.name, description: t.description, parameters } };
    });
    const qualified = (name: string) => granted.find((t) => t.name === name)?.qualified ?? name;
    const memory = Memory.restore(turn.memory);
    const flow = await this.run(card, turn, offered, qualified);
    switch (flow.kind) {
      case "answered":
        card.finishFor(msg, render(turn.steps, flow.text));
        try {
          memory.answered(flow.text);
        } catch (e) {
          log.warn(`the answer was not remembered: ${reason(e)}`);
        }
        return;
      case "stopped": {
        const done = turn.steps.filter((s) => s.tool !== "" && s.state === "ok").length;
        const sentence = `Stopped: ${flow.why}. ${done} tool call(s) had run.`;
        card.finishFor(msg, render(turn.steps, `**${sentence}**`));
        try {
          memory.answered(sentence);
        } catch {
          // the card says it; memory is best effort
        }
        return;
      }
      case "failed":
        log.warn(`model failed: ${flow.why}`);
        card.failFor(msg, `Sorry, ${flow.why}.`);
        return;
      case "waiting":
        card.update(render(turn.steps, "Waiting for approval…"));
        this.askApproval(msg, turn, flow.approval);
    }
  }

  /** Show the approval buttons (or, if the card cannot be sent, the commands) and save
   * the turn until the request expires. */
  private askApproval(msg: ChatbotMessage | undefined, turn: Turn, approval: tools.Approval): void {
    const card = approvalCard(approval);
    try {
      if (turn.approvalCard !== null) {
        cards.updateStandard(turn.approvalCard, card);
      } else {
        const id = `approve-${turn.outTrackId}`;
        cards.sendStandard(id, card);
        turn.approvalCard = id;
      }
    } catch (e) {
      log.warn(`the approval card could not be shown: ${reason(e)}`);
      if (msg) replyText(msg, approvalText(approval));
    }
    kv.setJson(savedKey(approval.id), turn, Number(approval.expiresInMs) + 60_000);
  }

  /** The loop: model rounds and tool calls until an answer, a wait or a stop. */
  private async run(card: AiCard, turn: Turn, offered: object[], qualified: (name: string) => string): Promise<Flow> {
    const early = runCalls(card, turn, qualified);
    if (early) return early;
    for (;;) {
      const budget = tools.budget();
      if (budget.modelRounds === 0) return { kind: "stopped", why: "this turn used all the model rounds `model_rounds_per_turn` allows" };
      if (budget.tokens === 0n) return { kind: "stopped", why: "this conversation used today's tokens (`tokens_per_conversation_per_day`)" };
      if (budget.remainingMs === 0n) return { kind: "stopped", why: "this turn ran for as long as `turn_timeout_ms` allows" };
      const deadline = Math.min(this.pacing.deadlineMs, Number(budget.remainingMs));
      let stream: ChatStream;
      try {
        stream = await this.streamRound(card, turn, offered, deadline);
      } catch (e) {
        return { kind: "failed", why: e instanceof ModelError ? e.message : reason(e) };
      }
      tools.spend(stream.usage ?? 0);
      const reasoning = stream.reasoning;
      if (reasoning !== undefined && reasoning.trim() !== "") {
        turn.steps.push({ tool: "", detail: shorten(reasoning, SHORT_ARGUMENTS), state: "ok", ms: 0 });
      }
      const calls = stream.toolCalls.map((c) => ({ ...c }));
      if (calls.length === 0) return { kind: "answered", text: stream.text };
      const assistant: Record<string, unknown> = {
        role: "assistant",
        content: stream.text,
        tool_calls: calls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } })),
      };
      if (reasoning !== undefined) assistant.reasoning_content = reasoning;
      turn.messages.push(assistant);
      turn.queued = calls;
      const flow = runCalls(card, turn, qualified);
      if (flow) return flow;
    }
  }

  /** One model round streamed into the card under the steps. */
  private async streamRound(card: AiCard, turn: Turn, offered: object[], deadlineMs: number): Promise<ChatStream> {
    const started = Date.now();
    const stream = await this.client.streamWithTools(turn.messages, offered);
    for (;;) {
      const left = deadlineMs - (Date.now() - started);
      if (left <= 0) throw new ModelError("timeout", `no complete answer within ${deadlineMs} ms`);
      const wait = Math.max(card.nextUpdateIn(this.pacing.intervalMs), 50);
      if ((await stream.poll(Math.min(wait, left))) === "done") return stream;
      if (card.nextUpdateIn(this.pacing.intervalMs) === 0 && stream.text !== "") card.update(render(turn.steps, stream.text));
    }
  }
}

/** Run the queued calls in order; a wait or a stop ends the loop. */
function runCalls(card: AiCard, turn: Turn, qualified: (name: string) => string): Flow | undefined {
  while (turn.queued.length > 0) {
    const call = turn.queued.shift() as ToolCall;
    turn.steps.push({ tool: qualified(call.name), detail: shorten(call.arguments, SHORT_ARGUMENTS), state: "running", ms: 0 });
    const step = turn.steps.length - 1;
    card.update(render(turn.steps, ""));
    const started = Date.now();
    let content: string;
    try {
      const called = tools.call(call.name, call.arguments.trim() === "" ? "{}" : call.arguments);
      turn.steps[step].ms = Date.now() - started;
      if (called.tag === "pending") {
        turn.steps[step].state = "waiting";
        turn.waiting = [call, step];
        return { kind: "waiting", approval: called.val };
      }
      turn.steps[step].state = called.tag === "ok" ? "ok" : "failed";
      content = called.tag === "ok" ? called.val : JSON.stringify({ error: called.val });
    } catch (e) {
      turn.steps[step].ms = Date.now() - started;
      turn.steps[step].state = "failed";
      if (e instanceof HostError && e.kind === "limit") return { kind: "stopped", why: e.reason };
      content = JSON.stringify({ error: reason(e) });
    }
    turn.messages.push({ role: "tool", tool_call_id: call.id, content });
  }
  return undefined;
}

/** `tool-approval:<decision>:<id>` read back. */
export function parseButton(action: string): { decision: tools.Decision; id: string } | undefined {
  const prefix = `${BUTTON_PREFIX}:`;
  if (!action.startsWith(prefix)) return undefined;
  const rest = action.slice(prefix.length);
  const colon = rest.indexOf(":");
  if (colon < 0) return undefined;
  const decision = ({ once: "allow-once", conversation: "allow-conversation", deny: "deny" } as const)[rest.slice(0, colon)];
  return decision === undefined ? undefined : { decision, id: rest.slice(colon + 1) };
}

function shownArguments(args: string): string {
  if (args.length <= SHOWN_ARGUMENTS) return args;
  return `${args.slice(0, SHOWN_ARGUMENTS)} … (${args.length} characters in all)`;
}

function approvalText(a: tools.Approval): string {
  const minutes = Math.ceil(Number(a.expiresInMs) / 60_000);
  return `Approval needed: ${a.tool} with ${shownArguments(a.arguments)}. Only ${a.approvers} may answer: /approve ${a.id} or /deny ${a.id} (expires in ${minutes} min).`;
}

/** The StandardCard asking for a yes: the tool, its arguments in full, three buttons. */
export function approvalCard(a: tools.Approval): object {
  const button = (label: string, decision: string, status: string) => ({
    type: "button",
    label: { type: "text", text: label },
    actionType: "request",
    status,
    id: `${BUTTON_PREFIX}:${decision}:${a.id}`,
  });
  const minutes = Math.ceil(Number(a.expiresInMs) / 60_000);
  return {
    config: { autoLayout: true },
    header: { title: { type: "text", text: "Approval needed" } },
    contents: [
      {
        type: "markdown",
        text: `**${a.tool}** wants to run with:\n\n\`\`\`\n${shownArguments(a.arguments)}\n\`\`\`\n\nOnly ${a.approvers} may answer (expires in ${minutes} min; or /approve ${a.id} in the chat).`,
        id: "approval_text",
      },
      {
        type: "action",
        actions: [button("Allow once", "once", "primary"), button("Allow for this conversation", "conversation", "normal"), button("Deny", "deny", "warning")],
        id: "approval_actions",
      },
    ],
  };
}

function settledCard(note: string): object {
  return {
    config: { autoLayout: true },
    header: { title: { type: "text", text: "Approval settled" } },
    contents: [{ type: "markdown", text: note, id: "approval_text" }],
  };
}
