"""Run a client whose DingTalk URLs are hard-coded against the simulator.

    python3 tls_proxy.py CA_CERT LEAF_CERT LEAF_KEY -- COMMAND...

Forks a local HTTPS proxy that answers CONNECT, terminates TLS with a throw-away
certificate for *.dingtalk.com and forwards the plain bytes to
DINGTALK_OPENAPI_ENDPOINT, then execs COMMAND with HTTPS_PROXY and SSL_CERT_FILE
pointing at it. The exec keeps this process id, so the benchmark driver measures the
client's memory and CPU, not the proxy's. The proxy exits when the client does.
"""

import asyncio
import os
import ssl
import socket
import sys
from urllib.parse import urlparse


async def pump(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


async def serve(listener, context, upstream):
    async def handle(reader, writer):
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            await writer.start_tls(context)
            up_reader, up_writer = await asyncio.open_connection(*upstream)
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError) as e:
            print(f"tls_proxy: {e}", file=sys.stderr)
            writer.close()
            return
        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))

    server = await asyncio.start_server(handle, sock=listener)
    parent = os.getppid()
    async with server:
        while os.getppid() == parent:
            await asyncio.sleep(0.5)


def main():
    ca, cert, key = sys.argv[1:4]
    command = sys.argv[sys.argv.index("--") + 1 :]
    endpoint = urlparse(os.environ["DINGTALK_OPENAPI_ENDPOINT"])
    upstream = (endpoint.hostname, endpoint.port or 80)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    if os.fork() == 0:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        asyncio.run(serve(listener, context, upstream))
        os._exit(0)
    listener.close()
    env = dict(
        os.environ,
        HTTPS_PROXY=f"http://127.0.0.1:{port}",
        SSL_CERT_FILE=ca,
        NO_PROXY="127.0.0.1,localhost",
    )
    os.execvpe(command[0], command, env)


if __name__ == "__main__":
    main()
