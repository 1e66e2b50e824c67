// jscalc against the table every calcbot is held to (plugins/calcbot/cases.json).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { answer, floatRepr } from "../src/calc.js";

const cases = JSON.parse(readFileSync(new URL("../../calcbot/cases.json", import.meta.url), "utf8"));

test("the shared table of cases gets calcbot's answers", () => {
  const wrong = [];
  for (const c of cases) {
    const want = `Q: ${c.input.trim()}\nA: ${c.answer ?? `Error: ${c.error}`}`;
    const got = answer(c.input);
    if (got !== want) wrong.push(`${JSON.stringify(c.input)}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }
  assert.deepEqual(wrong, []);
});

test("floats print as Python's repr", () => {
  for (const [x, want] of [
    [1e16, "1e+16"],
    [1.5e-5, "1.5e-05"],
    [1e15, "1000000000000000.0"],
    [0.0001, "0.0001"],
    [123.456, "123.456"],
    [-0, "-0.0"],
    [2.5e-300, "2.5e-300"],
    [1.7976931348623157e308, "1.7976931348623157e+308"],
  ]) {
    assert.equal(floatRepr(x), want, String(x));
  }
});
