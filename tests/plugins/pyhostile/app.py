"""Test fixture: a Python plugin that tries what the sandbox forbids and says what
happened. Commands: fs, env, socket, http <url>, fetch <url>, sse <url>, loop, memory,
raise, warmed. (`fetch` and `sse` use the SDK's `http`, which goes through the host: to a
granted origin they work.) `hello` is the build-time warm-up's message: what it did
is in the snapshot, and `warmed` tells it."""

import os

from dingtalk_bot import HostError, Plugin, http, log, reply_text

bot = Plugin("pyhostile", "0.1.0")

warmed_up = "never"


def attempt(f) -> str:
    try:
        return f"allowed: {f()!r}"[:200]
    except BaseException as e:  # the point is to report whatever the sandbox raised
        return f"refused: {type(e).__name__}"


def read_file():
    with open("/etc/passwd") as f:
        return f.read(20)


def open_socket():
    import socket

    s = socket.create_connection(("127.0.0.1", 22), timeout=1)
    return s.getpeername()


def fetch(url):
    import urllib.request

    return urllib.request.urlopen(url, timeout=2).read(20)


@bot.on_message
def on_message(msg):
    words = (msg.text_content() or "").split()
    command = words[0] if words else ""
    if command == "fs":
        answer = attempt(read_file) + " | " + attempt(lambda: os.listdir("/"))
    elif command == "env":
        answer = f"env: {sorted(os.environ)}"
    elif command == "socket":
        answer = attempt(open_socket)
    elif command == "http":
        answer = attempt(lambda: fetch(words[1]))
    elif command == "fetch":
        try:
            res = http.get(words[1])
            answer = f"fetched: {res.status} {res.text()}"
        except HostError as e:
            answer = f"host error: {e.kind}"
    elif command == "sse":
        answer = "sse: " + "|".join(e.data for e in http.get(words[1]).events())
    elif command == "loop":
        while True:
            pass
    elif command == "memory":
        hog = []
        while True:
            hog.append(bytearray(1 << 20))
    elif command == "raise":
        raise RuntimeError("on purpose")
    elif command == "hello":
        global warmed_up
        warmed_up = "ran"
        try:
            log.info("a host call from the warm-up")
            warmed_up = "ran, and a host call went through"
        except Exception as e:  # the point is to report what the warm-up raised
            warmed_up = f"ran, a host call refused: {type(e).__name__}"
        answer = "hello"
    elif command == "warmed":
        answer = f"warm-up: {warmed_up}"
    else:
        answer = "commands: fs, env, socket, http <url>, fetch <url>, sse <url>, loop, memory, raise, warmed"
    reply_text(msg, answer)


WitWorld = bot.export()
