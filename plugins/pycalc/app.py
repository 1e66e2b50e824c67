"""pycalc: calcbot in Python, for messages that start with ``py``.

``py 2*(3+4)`` is answered ``Q: 2*(3+4)\\nA: 14``, exactly as calcbot answers
``2*(3+4)``. Other messages are left to the other plugins, so pycalc and calcbot
served side by side never answer one message twice.
"""

import calc
from dingtalk_bot import Plugin, log, reply_text

bot = Plugin("pycalc", "0.1.0")


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
