import assert from "node:assert/strict";
import { test } from "node:test";

import { USAGE, apply, parse } from "../src/todo.js";

test("commands are parsed after the todo prefix and other messages are not todobot's", () => {
  assert.deepEqual(parse("todo add buy milk "), { kind: "add", item: "buy milk" });
  assert.deepEqual(parse("TODO list"), { kind: "list" });
  assert.deepEqual(parse("todo done 2"), { kind: "done", n: 2 });
  assert.deepEqual(parse("todo"), { kind: "usage" });
  assert.deepEqual(parse("todo remove 1"), { kind: "usage" });
  assert.deepEqual(parse("todo done 0"), { kind: "usage" });
  assert.deepEqual(parse("todo done two"), { kind: "usage" });
  assert.deepEqual(parse("todo add"), { kind: "usage" });
  assert.equal(parse("6*7"), undefined);
  assert.equal(parse("todos"), undefined);
});

test("items are numbered from 1 and done removes the item with that number", () => {
  let items: string[] = [];
  for (const item of ["milk", "eggs", "bread"]) {
    items = apply(items, { kind: "add", item }).items ?? items;
  }
  assert.equal(apply(items, { kind: "list" }).answer, "1. milk\n2. eggs\n3. bread");
  const done = apply(items, { kind: "done", n: 2 });
  assert.deepEqual(done.items, ["milk", "bread"]);
  assert.equal(done.answer, "Done: ~~eggs~~\n\n1. milk\n2. bread");
  assert.equal(apply(["a"], { kind: "done", n: 5 }).items, undefined);
  assert.equal(apply([], { kind: "usage" }).answer, USAGE);
});

test("markdown in an item is shown as typed", () => {
  const { answer } = apply([], { kind: "add", item: "**bold** [x](y)" });
  assert.equal(answer, "Added **1.** \\*\\*bold\\*\\* \\[x\\]\\(y\\)");
});
