"""A remote MCP server for the host's MCP client tests, served by the official Python
SDK (``MCPServer``, Streamable HTTP) on ``127.0.0.1:<port>/mcp``.

Usage: ``tools_server.py PORT RECORD``; every request's ``Authorization`` header is
appended to the file RECORD (one line each) so a test sees what arrived.
"""

import asyncio
import sys

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

PORT = int(sys.argv[1])
RECORD = sys.argv[2]

server = MCPServer("tools-peer", log_level="WARNING")


def record(ctx: Context) -> str:
    request = ctx.request_context.request
    seen = request.headers.get("authorization", "") if request is not None else ""
    with open(RECORD, "a", encoding="utf-8") as f:
        f.write(seen + "\n")
    return seen


@server.tool()
def add(a: int, b: int, ctx: Context) -> str:
    """Add two integers."""
    record(ctx)
    return str(a + b)


@server.tool()
def fail(ctx: Context) -> str:
    """Always fails."""
    record(ctx)
    raise ToolError("the tracker is read-only today")


@server.tool()
async def hang(ctx: Context) -> str:
    """Never answers in time."""
    record(ctx)
    await asyncio.sleep(600)
    return "late"


@server.tool()
def echo_auth(ctx: Context) -> str:
    """Answers with the Authorization header it was sent (a server may echo anything)."""
    return "you sent: " + record(ctx)


@server.tool()
def delete_everything(ctx: Context) -> str:
    """Listed by the server, never granted by the tests."""
    record(ctx)
    return "deleted"


@server.tool()
def huge(ctx: Context) -> str:
    """A result far past any bound."""
    record(ctx)
    return "x" * 200_000


if __name__ == "__main__":
    server.run("streamable-http", host="127.0.0.1", port=PORT)
