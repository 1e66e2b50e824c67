"""pycalc: calcbot in Python, for messages that start with ``py``.

``py 2*(3+4)`` is answered ``Q: 2*(3+4)\\nA: 14``, exactly as calcbot answers
``2*(3+4)``. Other messages are left to the other plugins, so pycalc and calcbot
served side by side never answer one message twice.

It also offers agents the tool ``calc`` (``{"expression": "7/2"}`` →
``{"expression": ..., "value": "3.5"}``), with the same evaluator; an expression it
cannot evaluate is a tool error the model reads.
"""

import json
from dataclasses import dataclass

import calc
from dingtalk_bot import HostError, Plugin, log, reply_text

# Warmed up at build with a sum, so the calculator's code is already run in every fresh instance.
bot = Plugin("pycalc", "0.1.0").warm_up(["py 2*(3+4)"])


@dataclass
class Calc:
    """The ``calc`` tool's arguments."""

    expression: str


@bot.tool(
    "calc",
    "Evaluate an arithmetic expression exactly (Python's rules: + - * / // % **, parentheses).",
    {
        "type": "object",
        "properties": {"expression": {"type": "string", "description": "e.g. 2*(3+4)"}},
        "required": ["expression"],
    },
)
def calc_tool(args: Calc, _conversation) -> dict:
    expression = args.expression.strip()
    try:
        value = calc.evaluate(expression)
    except calc.CalcError as e:
        raise HostError("invalid-argument", f"cannot evaluate {json.dumps(expression)}: {e}") from None
    return {"expression": expression, "value": repr(value)}


@bot.on_message
def on_message(msg):
    text = msg.text_content()
    if text is None or not (text == "py" or text.startswith("py ")):
        return None
    reply = calc.answer(text[2:])
    log.debug(reply)
    reply_text(msg, reply)
    return None


WitWorld = bot.export()
