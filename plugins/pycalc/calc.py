"""Arithmetic with Python's semantics, the Python twin of calcbot's evaluator.

The expression is checked first exactly as calcbot checks it (same characters, number
literals, grammar, nesting and length limits, same messages), then parsed with the
``ast`` module and evaluated by walking the tree: nothing is ever ``eval``-ed, and
only numbers and ``+ - * / // % **`` get through. Integers are exact up to 128 bits
like calcbot's (a larger result is an error, and no ``2**10**10`` is ever computed);
floats print as ``repr`` does. ``plugins/calcbot/cases.json`` holds the answers both
bots must give.
"""

from __future__ import annotations

import ast
import math

MAX_LEN = 1024
MAX_DEPTH = 64
INT_MIN = -(2**127)
INT_MAX = 2**127 - 1


class CalcError(Exception):
    """Why an expression has no value (the text is the user-facing reason)."""


def _number(chars: str, start: int) -> tuple[int | float, int]:
    i = start
    is_float = False

    def digits(i: int) -> int:
        while i < len(chars) and (chars[i].isdigit() and chars[i].isascii() or chars[i] == "_"):
            i += 1
        return i

    i = digits(i)
    if i < len(chars) and chars[i] == ".":
        is_float = True
        i = digits(i + 1)
    if i < len(chars) and chars[i] in "eE":
        j = i + 1
        if j < len(chars) and chars[j] in "+-":
            j += 1
        if j < len(chars) and chars[j].isascii() and chars[j].isdigit():
            is_float = True
            i = digits(j)
    text = chars[start:i]
    bad = CalcError(f'invalid number "{text}"')
    if text == "." or text.startswith("_") or text.endswith("_") or "__" in text:
        raise bad
    clean = text.replace("_", "")
    if is_float:
        try:
            return float(clean), i
        except ValueError:
            raise bad from None
    if len(clean) > 1 and clean.startswith("0") and clean.strip("0"):
        raise bad
    value = int(clean)
    if not INT_MIN <= value <= INT_MAX:
        raise CalcError("integer result too large")
    return value, i


_OPS = ["**", "//", "+", "-", "*", "/", "%", "(", ")"]


def tokenize(text: str) -> list[tuple[str, object, int]]:
    """(kind, value, position) tokens; kind is "num" or the operator itself."""
    out = []
    i = 0
    while i < len(text):
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if (c.isascii() and c.isdigit()) or c == ".":
            value, end = _number(text, i)
            out.append(("num", value, i))
            i = end
            continue
        op = next((o for o in _OPS if text.startswith(o, i)), None)
        if op is None:
            raise CalcError(f"invalid character {c!r} at position {i + 1}")
        out.append((op, op, i))
        i += len(op)
    return out


def _shown(token) -> str:
    kind, value, _ = token
    return repr(value) if kind == "num" and isinstance(value, float) else str(value)


class _Checker:
    """calcbot's recursive-descent grammar, checking only: same errors, same order."""

    def __init__(self, tokens):
        self.tokens = tokens
        self.pos = 0
        self.depth = 0

    def peek(self):
        return self.tokens[self.pos][0] if self.pos < len(self.tokens) else None

    def next(self):
        if self.pos >= len(self.tokens):
            raise CalcError("unexpected end of expression")
        self.pos += 1
        return self.tokens[self.pos - 1]

    def unexpected(self, token):
        return CalcError(f'unexpected "{_shown(token)}" at position {token[2] + 1}')

    def nest(self, f):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise CalcError(f"expression nested deeper than {MAX_DEPTH} levels")
        f()
        self.depth -= 1

    def expr(self):
        self.term()
        while self.peek() in ("+", "-"):
            self.pos += 1
            self.term()

    def term(self):
        self.unary()
        while self.peek() in ("*", "/", "//", "%"):
            self.pos += 1
            self.unary()

    def unary(self):
        if self.peek() in ("+", "-"):
            self.pos += 1
            self.nest(self.unary)
        else:
            self.power()

    def power(self):
        self.atom()
        if self.peek() == "**":
            self.pos += 1
            self.nest(self.unary)

    def atom(self):
        token = self.next()
        if token[0] == "num":
            return
        if token[0] == "(":
            self.nest(self.expr)
            close = self.next()
            if close[0] != ")":
                raise self.unexpected(close)
            return
        raise self.unexpected(token)


def _finite(x: float) -> float:
    if not math.isfinite(x):
        raise CalcError("numerical result out of range")
    return x


def _int(x: int) -> int:
    if not INT_MIN <= x <= INT_MAX:
        raise CalcError("integer result too large")
    return x


def _both_int(a, b) -> bool:
    return isinstance(a, int) and isinstance(b, int)


def _binary(op: ast.operator, a, b):
    if isinstance(op, (ast.Div, ast.FloorDiv, ast.Mod)) and b == 0:
        raise CalcError(
            {
                (ast.Div, True): "division by zero",
                (ast.Div, False): "float division by zero",
                (ast.FloorDiv, True): "integer division or modulo by zero",
                (ast.FloorDiv, False): "float floor division by zero",
                (ast.Mod, True): "integer modulo by zero",
                (ast.Mod, False): "float modulo",
            }[(type(op), _both_int(a, b))]
        )
    if isinstance(op, ast.Pow):
        return _power(a, b)
    result = {
        ast.Add: lambda: a + b,
        ast.Sub: lambda: a - b,
        ast.Mult: lambda: a * b,
        ast.Div: lambda: a / b,
        ast.FloorDiv: lambda: a // b,
        ast.Mod: lambda: a % b,
    }[type(op)]()
    return _int(result) if isinstance(result, int) else _finite(result)


def _power(base, exp):
    if _both_int(base, exp) and exp >= 0:
        # |base| >= 2 past 127 bits overflows: refuse before computing it.
        if abs(base) >= 2 and exp > 127:
            raise CalcError("integer result too large")
        return _int(base**exp)
    b, e = float(base), float(exp)
    if b == 0.0 and e < 0.0:
        raise CalcError("0.0 cannot be raised to a negative power")
    if b < 0.0 and not e.is_integer():
        raise CalcError("result is a complex number")
    try:
        return _finite(b**e)
    except OverflowError:
        raise CalcError("numerical result out of range") from None


def _walk(node):
    if isinstance(node, ast.Expression):
        return _walk(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _walk(node.operand)
        if isinstance(node.op, ast.UAdd):
            return value
        return _int(-value) if isinstance(value, int) else -value
    if isinstance(node, ast.BinOp):
        return _binary(node.op, _walk(node.left), _walk(node.right))
    raise CalcError("not arithmetic")


def evaluate(text: str) -> int | float:
    """The value of ``text``, or ``CalcError`` saying why there is none."""
    if len(text.encode()) > MAX_LEN:
        raise CalcError(f"expression longer than {MAX_LEN} characters")
    tokens = tokenize(text)
    if not tokens:
        raise CalcError("empty expression")
    checker = _Checker(tokens)
    checker.expr()
    if checker.pos < len(tokens):
        raise checker.unexpected(tokens[checker.pos])
    # The checked tokens, with numbers as Python literals, are valid Python.
    source = " ".join(repr(v) if k == "num" else k for k, v, _ in tokens)
    return _walk(ast.parse(source, mode="eval"))


def answer(text: str) -> str:
    """The whole reply: ``Q: <expression>\\nA: <result>`` or ``...A: Error: <reason>``."""
    expression = text.strip()
    try:
        return f"Q: {expression}\nA: {evaluate(expression)!r}"
    except CalcError as e:
        return f"Q: {expression}\nA: Error: {e}"
