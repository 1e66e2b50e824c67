"""calcbot on the official Python SDK (dingtalk-stream 0.24.3), for the fidelity test.

The SDK reads DINGTALK_OPENAPI_ENDPOINT when it is imported, so the test sets it (to
the simulator) before starting this script. The handler is the SDK's own calcbot
example with a safe evaluator in place of eval().
"""

import ast
import operator
import os

import dingtalk_stream
from dingtalk_stream import AckMessage

OPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


def evaluate(node):
    if isinstance(node, ast.Expression):
        return evaluate(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in OPS:
        return OPS[type(node.op)](evaluate(node.left), evaluate(node.right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in OPS:
        return OPS[type(node.op)](evaluate(node.operand))
    raise ValueError("not arithmetic")


class CalcBotHandler(dingtalk_stream.ChatbotHandler):
    async def process(self, callback: dingtalk_stream.CallbackMessage):
        incoming = dingtalk_stream.ChatbotMessage.from_dict(callback.data)
        expression = incoming.text.content.strip()
        try:
            result = evaluate(ast.parse(expression, mode="eval"))
        except Exception as e:  # noqa: BLE001 - the answer names any failure
            result = "Error: " + str(e)
        self.reply_text("Q: %s\nA: %s" % (expression, result), incoming)
        return AckMessage.STATUS_OK, "OK"


def main():
    credential = dingtalk_stream.Credential(
        os.environ["DINGTALK_CLIENT_ID"], os.environ["DINGTALK_CLIENT_SECRET"]
    )
    client = dingtalk_stream.DingTalkStreamClient(credential)
    client.register_callback_handler(
        dingtalk_stream.chatbot.ChatbotMessage.TOPIC, CalcBotHandler()
    )
    client.start_forever()


if __name__ == "__main__":
    main()
