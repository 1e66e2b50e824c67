// Arithmetic with Python's semantics, the JavaScript twin of calcbot's evaluator.
//
// The same characters, number literals, grammar, nesting and length limits and the
// same messages as calcbot; integers are BigInts, exact up to 128 bits (a larger
// result is an error, and no `2**10**10` is ever computed); floats print as Python's
// `repr` does. Nothing is ever `eval`-ed. `plugins/calcbot/cases.json` holds the
// answers every calcbot must give.

const MAX_LEN = 1024;
const MAX_DEPTH = 64;
const INT_MIN = -(2n ** 127n);
const INT_MAX = 2n ** 127n - 1n;
const OPS = ["**", "//", "+", "-", "*", "/", "%", "(", ")"];

/** Why an expression has no value (the message is the user-facing reason). */
export class CalcError extends Error {}

const isDigit = (c) => c >= "0" && c <= "9";

function checkInt(x) {
  if (x < INT_MIN || x > INT_MAX) throw new CalcError("integer result too large");
  return x;
}

function finite(x) {
  if (!Number.isFinite(x)) throw new CalcError("numerical result out of range");
  return x;
}

/** Python's `repr` of a float. */
export function floatRepr(x) {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const [mantissa, e] = Math.abs(x).toExponential().split("e");
  const exp = Number(e);
  const digits = mantissa.replace(".", "");
  const sign = x < 0 ? "-" : "";
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign}${m}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  }
  if (exp < 0) return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
  const whole = digits.slice(0, exp + 1).padEnd(exp + 1, "0");
  const frac = digits.slice(exp + 1);
  return `${sign}${whole}.${frac || "0"}`;
}

const repr = (v) => (typeof v === "bigint" ? v.toString() : floatRepr(v));

/** Python's repr of a one-character string. */
function charRepr(c) {
  const quote = c === "'" ? '"' : "'";
  return `${quote}${c === "\\" ? "\\\\" : c}${quote}`;
}

function number(chars, start) {
  let i = start;
  let isFloat = false;
  const digits = (j) => {
    while (j < chars.length && (isDigit(chars[j]) || chars[j] === "_")) j++;
    return j;
  };
  i = digits(i);
  if (chars[i] === ".") {
    isFloat = true;
    i = digits(i + 1);
  }
  if (chars[i] === "e" || chars[i] === "E") {
    let j = i + 1;
    if (chars[j] === "+" || chars[j] === "-") j++;
    if (j < chars.length && isDigit(chars[j])) {
      isFloat = true;
      i = digits(j);
    }
  }
  const text = chars.slice(start, i).join("");
  const bad = new CalcError(`invalid number "${text}"`);
  if (text === "." || text.startsWith("_") || text.endsWith("_") || text.includes("__")) throw bad;
  const clean = text.replaceAll("_", "");
  if (isFloat) return [Number(clean.startsWith(".") ? `0${clean}` : clean), i];
  if (clean.length > 1 && clean.startsWith("0") && /[^0]/.test(clean)) throw bad;
  return [checkInt(BigInt(clean)), i];
}

/** `{kind, value, pos}` tokens; kind is "num" or the operator itself. */
export function tokenize(text) {
  const chars = Array.from(text);
  const out = [];
  let i = 0;
  while (i < chars.length) {
    const c = chars[i];
    if (/\s/u.test(c)) {
      i++;
      continue;
    }
    if (isDigit(c) || c === ".") {
      const [value, end] = number(chars, i);
      out.push({ kind: "num", value, pos: i });
      i = end;
      continue;
    }
    const op = OPS.find((o) => chars.slice(i, i + o.length).join("") === o);
    if (op === undefined) throw new CalcError(`invalid character ${charRepr(c)} at position ${i + 1}`);
    out.push({ kind: op, value: op, pos: i });
    i += op.length;
  }
  return out;
}

/** calcbot's recursive-descent grammar: the tree, or its errors in its order. */
class Parser {
  constructor(tokens) {
    this.tokens = tokens;
    this.pos = 0;
    this.depth = 0;
  }

  peek() {
    return this.tokens[this.pos]?.kind;
  }

  next() {
    if (this.pos >= this.tokens.length) throw new CalcError("unexpected end of expression");
    return this.tokens[this.pos++];
  }

  unexpected(token) {
    return new CalcError(`unexpected "${token.kind === "num" ? repr(token.value) : token.value}" at position ${token.pos + 1}`);
  }

  nest(f) {
    if (++this.depth > MAX_DEPTH) throw new CalcError(`expression nested deeper than ${MAX_DEPTH} levels`);
    const node = f();
    this.depth--;
    return node;
  }

  binaryLoop(ops, operand) {
    let left = operand();
    while (ops.includes(this.peek())) {
      const op = this.next().kind;
      left = { op, left, right: operand() };
    }
    return left;
  }

  expr() {
    return this.binaryLoop(["+", "-"], () => this.term());
  }

  term() {
    return this.binaryLoop(["*", "/", "//", "%"], () => this.unary());
  }

  unary() {
    const op = this.peek();
    if (op === "+" || op === "-") {
      this.pos++;
      return { op: `u${op}`, operand: this.nest(() => this.unary()) };
    }
    return this.power();
  }

  power() {
    const base = this.atom();
    if (this.peek() !== "**") return base;
    this.pos++;
    return { op: "**", left: base, right: this.nest(() => this.unary()) };
  }

  atom() {
    const token = this.next();
    if (token.kind === "num") return { value: token.value };
    if (token.kind === "(") {
      const inner = this.nest(() => this.expr());
      const close = this.next();
      if (close.kind !== ")") throw this.unexpected(close);
      return inner;
    }
    throw this.unexpected(token);
  }
}

const bothInt = (a, b) => typeof a === "bigint" && typeof b === "bigint";

// Python's float floor division and modulo (Objects/floatobject.c, float_divmod).
function floatDivmod(a, b) {
  let mod = a % b;
  let div = (a - mod) / b;
  if (mod) {
    if (b < 0 !== mod < 0) {
      mod += b;
      div -= 1;
    }
  } else {
    mod = b < 0 ? -0 : 0;
  }
  let floordiv;
  if (div) {
    floordiv = Math.floor(div);
    if (div - floordiv > 0.5) floordiv += 1;
  } else {
    const q = a / b;
    floordiv = q < 0 || Object.is(q, -0) ? -0 : 0;
  }
  return [floordiv, mod];
}

const ZERO_DIVISION = {
  "/": ["division by zero", "float division by zero"],
  "//": ["integer division or modulo by zero", "float floor division by zero"],
  "%": ["integer modulo by zero", "float modulo"],
};

function power(base, exp) {
  if (bothInt(base, exp) && exp >= 0n) {
    const abs = base < 0n ? -base : base;
    if (abs >= 2n && exp > 127n) throw new CalcError("integer result too large");
    return checkInt(base ** exp);
  }
  const b = Number(base);
  const e = Number(exp);
  if (b === 0 && e < 0) throw new CalcError("0.0 cannot be raised to a negative power");
  if (b < 0 && !Number.isInteger(e)) throw new CalcError("result is a complex number");
  return finite(b ** e);
}

function binary(op, a, b) {
  if (op in ZERO_DIVISION && (typeof b === "bigint" ? b === 0n : b === 0)) {
    throw new CalcError(ZERO_DIVISION[op][bothInt(a, b) ? 0 : 1]);
  }
  if (op === "**") return power(a, b);
  if (bothInt(a, b)) {
    switch (op) {
      case "+":
        return checkInt(a + b);
      case "-":
        return checkInt(a - b);
      case "*":
        return checkInt(a * b);
      case "/":
        return finite(Number(a) / Number(b));
      case "//": {
        const q = a / b;
        return checkInt(a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q);
      }
      case "%": {
        const r = a % b;
        return r !== 0n && r < 0n !== b < 0n ? r + b : r;
      }
    }
  }
  const x = Number(a);
  const y = Number(b);
  switch (op) {
    case "+":
      return finite(x + y);
    case "-":
      return finite(x - y);
    case "*":
      return finite(x * y);
    case "/":
      return finite(x / y);
    case "//":
      return finite(floatDivmod(x, y)[0]);
    case "%":
      return finite(floatDivmod(x, y)[1]);
  }
  throw new CalcError("not arithmetic");
}

function walk(node) {
  if ("value" in node) return node.value;
  if (node.op === "u+") return walk(node.operand);
  if (node.op === "u-") {
    const v = walk(node.operand);
    return typeof v === "bigint" ? checkInt(-v) : -v;
  }
  return binary(node.op, walk(node.left), walk(node.right));
}

/** The value of `text` (a BigInt or a number), or a `CalcError` saying why there is none. */
export function evaluate(text) {
  if (new TextEncoder().encode(text).length > MAX_LEN) {
    throw new CalcError(`expression longer than ${MAX_LEN} characters`);
  }
  const tokens = tokenize(text);
  if (tokens.length === 0) throw new CalcError("empty expression");
  const parser = new Parser(tokens);
  const tree = parser.expr();
  if (parser.pos < tokens.length) throw parser.unexpected(tokens[parser.pos]);
  return walk(tree);
}

/** The whole reply: `Q: <expression>\nA: <result>` or `…A: Error: <reason>`. */
export function answer(text) {
  const expression = text.trim();
  try {
    return `Q: ${expression}\nA: ${repr(evaluate(expression))}`;
  } catch (e) {
    if (e instanceof CalcError) return `Q: ${expression}\nA: Error: ${e.message}`;
    throw e;
  }
}
