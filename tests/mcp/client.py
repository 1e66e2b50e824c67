"""An MCP client made with the official Python SDK (PyPI ``mcp``), for the e2e tests:
connect to ``url`` over Streamable HTTP (``Authorization: Bearer $MCP_TOKEN`` when
set), run the operations given as JSON on stdin, print what each gave as one JSON
document on stdout.

Operations: ``{"op": "list"}`` gives the tools (name, description, inputSchema);
``{"op": "call", "name": ..., "arguments": {...}}`` gives ``{"isError", "text"}``;
``{"op": "time", "name": ..., "arguments": {...}, "n": 200}`` makes the call ``n``
times in one session and gives the mean, p50 and p99 in milliseconds (BENCHMARKS.md).
A failure to connect or a refused request gives ``{"error": "..."}`` and exit code 0,
so the test can read why.
"""

import asyncio
import json
import os
import statistics
import sys
import time

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client


async def run(url: str, ops: list) -> list:
    token = os.environ.get("MCP_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    out = []
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            for op in ops:
                if op["op"] == "list":
                    listed = await client.list_tools()
                    out.append(
                        [
                            {"name": t.name, "description": t.description, "inputSchema": t.input_schema}
                            for t in listed.tools
                        ]
                    )
                elif op["op"] == "time":
                    times = []
                    for _ in range(op["n"]):
                        started = time.perf_counter()
                        await client.call_tool(op["name"], op.get("arguments", {}))
                        times.append((time.perf_counter() - started) * 1000)
                    times.sort()
                    out.append(
                        {
                            "mean_ms": statistics.fmean(times),
                            "p50_ms": times[len(times) // 2],
                            "p99_ms": times[min(len(times) - 1, len(times) * 99 // 100)],
                        }
                    )
                else:
                    result = await client.call_tool(op["name"], op.get("arguments", {}))
                    text = "".join(c.text for c in result.content if getattr(c, "type", "") == "text")
                    out.append({"isError": bool(result.is_error), "text": text})
    return out


def main() -> None:
    ops = json.load(sys.stdin)
    try:
        print(json.dumps({"results": asyncio.run(run(sys.argv[1], ops))}))
    except BaseException as e:  # noqa: BLE001 - the test reads why
        print(json.dumps({"error": f"{type(e).__name__}: {e!r}"}))


if __name__ == "__main__":
    main()
