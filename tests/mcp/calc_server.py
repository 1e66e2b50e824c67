"""pycalc's ``calc`` tool served by the official Python MCP SDK's own server
(``MCPServer``, Streamable HTTP) on ``127.0.0.1:<port>/mcp``: the peer BENCHMARKS.md
compares ``host mcp`` with (the same client, the same evaluator, no sandbox)."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "plugins" / "pycalc"))

import calc  # noqa: E402
from mcp.server.mcpserver import MCPServer  # noqa: E402

server = MCPServer("calc-peer", log_level="WARNING")


@server.tool()
def calcbot_calc(expression: str) -> dict:
    """Evaluate an arithmetic expression exactly."""
    expression = expression.strip()
    return {"expression": expression, "value": repr(calc.evaluate(expression))}


if __name__ == "__main__":
    server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[1]))
