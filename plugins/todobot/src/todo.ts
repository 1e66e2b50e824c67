/**
 * The to-do list logic, apart from the host so it is tested with plain Node: a
 * command's text in, the new list and the markdown answer out.
 */

/** What todobot answers to (with the routing in the README, only this reaches it). */
export const PREFIX = "todo";

export const USAGE = [
  "**todo** keeps a to-do list for this conversation:",
  "",
  "- `todo add <item>`: add an item",
  "- `todo list`: show the list",
  "- `todo done <n>`: tick off item n",
].join("\n");

/** A command, parsed from the text after the prefix. */
export type Command =
  | { kind: "add"; item: string }
  | { kind: "list" }
  | { kind: "done"; n: number }
  | { kind: "usage" };

/** The command in `text`, or `undefined` when the message is not for todobot. */
export function parse(text: string): Command | undefined {
  const trimmed = text.trim();
  const head = trimmed.split(/\s+/, 1)[0];
  if (head.toLowerCase() !== PREFIX) return undefined;
  const rest = trimmed.slice(head.length).trim();
  const [verb = "", ...args] = rest.split(/\s+/);
  const arg = rest.slice(verb.length).trim();
  switch (verb.toLowerCase()) {
    case "add":
      return arg ? { kind: "add", item: arg } : { kind: "usage" };
    case "list":
      return args.length === 0 ? { kind: "list" } : { kind: "usage" };
    case "done": {
      const n = /^\d{1,6}$/.test(arg) ? Number(arg) : NaN;
      return Number.isInteger(n) && n >= 1 ? { kind: "done", n } : { kind: "usage" };
    }
    default:
      return { kind: "usage" };
  }
}

/** Markdown control characters in an item are shown as typed, not interpreted. */
export function escape(item: string): string {
  return item.replace(/[\\`*_{}[\]()#+\-.!|<>~]/g, (c) => `\\${c}`);
}

/** The list as a numbered markdown list (from 1). */
export function render(items: string[]): string {
  if (items.length === 0) return "Nothing to do. Add one with `todo add <item>`.";
  return items.map((item, i) => `${i + 1}. ${escape(item)}`).join("\n");
}

/** Apply `command` to `items`: the new list (when it changed) and the answer. */
export function apply(items: string[], command: Command): { items?: string[]; answer: string } {
  switch (command.kind) {
    case "add": {
      const next = [...items, command.item];
      return { items: next, answer: `Added **${next.length}.** ${escape(command.item)}` };
    }
    case "list":
      return { answer: render(items) };
    case "done": {
      if (command.n > items.length) {
        const have = items.length === 0 ? "the list is empty" : `the list has ${items.length}`;
        return { answer: `There is no item ${command.n}: ${have}.` };
      }
      const next = items.filter((_, i) => i !== command.n - 1);
      return { items: next, answer: `Done: ~~${escape(items[command.n - 1])}~~\n\n${render(next)}` };
    }
    case "usage":
      return { answer: USAGE };
  }
}
