"""Outbound HTTP through the host (``wasi:http``), with answers that stream.

The host sends a request only to an origin the operator granted this plugin, after
vetting the address, with the headers the operator set for it (API keys the plugin
never sees), and within the per-frame request, byte and time limits. A refused
request raises ``HostError`` with kind ``denied``; a slow one ``timeout``; anything
else that goes wrong on the way ``network``.

    res = http.post(url, json={"model": "m", "stream": True})
    for event in res.events():          # server-sent events, as they arrive
        if event.data == "[DONE]":
            break
        ...
    text = http.get(url).text()          # or read it whole

Redirects are not followed (a 3xx comes back as it is).
"""

from __future__ import annotations

import json as _json
from dataclasses import dataclass
from typing import Iterator, Optional
from urllib.parse import urlsplit

from ._wit import imports
from .errors import HostError
from .sse import SseEvent, SseParser

_CHUNK = 16384
_WRITE = 4096


def _types():
    return imports().wasi_http_types


def _failure(code) -> HostError:
    """A wasi:http error code as the SDK's error (kind and readable reason)."""
    name = type(code).__name__.removeprefix("ErrorCode_")
    if name == "HttpRequestDenied":
        kind = "denied"
    elif "Timeout" in name:
        kind = "timeout"
    else:
        kind = "network"
    detail = getattr(code, "value", None)
    reason = name if detail is None else f"{name}: {detail}"
    return HostError(kind, reason)


@dataclass
class Response:
    """An answer whose body is read as it arrives (once).

    Its body stream is a child of its body: the host traps an instance that drops
    the body first, so ``close`` (also run when the response is collected, and by
    ``with``) drops them child first."""

    status: int
    headers: list[tuple[str, bytes]]
    _body: object
    _stream: object

    def close(self) -> None:
        """Let go of the body (reading it after this fails)."""
        stream, body = self._stream, self._body
        self._stream = self._body = None
        if stream is not None:
            stream.__exit__(None, None, None)
        if body is not None:
            body.__exit__(None, None, None)

    def __enter__(self) -> "Response":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def _open(self):
        """The body stream, unless the response was closed."""
        if self._stream is None:
            raise HostError("invalid-argument", "the response was closed")
        return self._stream

    def header(self, name: str) -> Optional[str]:
        """The first value of header ``name`` (any case), as text."""
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value.decode("latin-1")
        return None

    def chunks(self, size: int = _CHUNK) -> Iterator[bytes]:
        """The body, a chunk at a time, as the origin sends it."""
        self._open()
        streams = imports().streams
        while True:
            try:
                chunk = self._open().blocking_read(size)
            except Exception as e:  # componentize-py's Err(stream-error)
                if isinstance(getattr(e, "value", None), streams.StreamError_Closed):
                    return
                raise HostError("network", f"reading the answer failed: {e}") from None
            if chunk:
                yield chunk

    def read_within(self, wait_ms: int) -> Optional[bytes]:
        """The next chunk if one arrives within ``wait_ms``: the bytes, ``b""`` when
        the body ended, ``None`` when nothing arrived in time (so a caller can do
        something else on time while a slow server thinks)."""
        stream = self._open()
        i = imports()
        with stream.subscribe() as readable, i.monotonic_clock.subscribe_duration(max(0, wait_ms) * 1_000_000) as timer:
            ready = 0 in i.poll.poll([readable, timer])
        if not ready:
            return None
        return next(self.chunks(), b"")

    def read(self) -> bytes:
        """The whole body."""
        return b"".join(self.chunks())

    def text(self) -> str:
        """The whole body as UTF-8 text."""
        return self.read().decode()

    def json(self):
        """The whole body as JSON."""
        return _json.loads(self.read())

    def events(self) -> Iterator[SseEvent]:
        """Server-sent events of a streamed answer, each as soon as it is complete."""
        parser = SseParser()
        for chunk in self.chunks():
            yield from parser.feed(chunk)
        yield from parser.finish()


def request(
    method: str,
    url: str,
    headers: Optional[dict[str, str]] = None,
    body: Optional[bytes] = None,
    json=None,
    first_byte_timeout_ms: Optional[int] = None,
) -> Response:
    """Send ``method url`` (with ``body``, or ``json`` encoded) and wait for the
    status and headers, at most ``first_byte_timeout_ms`` for the first byte (the
    host's limit still applies); the body is read from the ``Response``."""
    types = _types()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise HostError("invalid-argument", f"not an http(s) URL: {parts.scheme}://…")
    fields = dict(headers or {})
    if json is not None:
        body = _json.dumps(json, ensure_ascii=False).encode()
        fields.setdefault("content-type", "application/json")
    entries = [(k.lower(), v.encode()) for k, v in fields.items()]
    req = types.OutgoingRequest(types.Fields.from_list(entries))
    methods = {
        "GET": types.Method_Get(),
        "HEAD": types.Method_Head(),
        "POST": types.Method_Post(),
        "PUT": types.Method_Put(),
        "DELETE": types.Method_Delete(),
        "PATCH": types.Method_Patch(),
        "OPTIONS": types.Method_Options(),
    }
    req.set_method(methods.get(method.upper()) or types.Method_Other(method))
    req.set_scheme(types.Scheme_Https() if parts.scheme == "https" else types.Scheme_Http())
    req.set_authority(parts.netloc)
    req.set_path_with_query((parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
    out = req.body()
    if body:
        with out.write() as stream:
            for i in range(0, len(body), _WRITE):
                stream.blocking_write_and_flush(body[i : i + _WRITE])
    options = None
    if first_byte_timeout_ms is not None:
        options = types.RequestOptions()
        options.set_first_byte_timeout(first_byte_timeout_ms * 1_000_000)
    future = _send(req, options)
    types.OutgoingBody.finish(out, None)
    response = _wait(future)
    incoming = response.consume()
    return Response(
        status=response.status(),
        headers=response.headers().entries(),
        _body=incoming,
        _stream=incoming.stream(),
    )


def _send(req, options):
    from ._wit import Err

    try:
        return imports().outgoing_handler.handle(req, options)
    except Err as e:
        raise _failure(e.value) from None


def _wait(future):
    from ._wit import Err

    while True:
        ready = future.get()
        if ready is None:
            future.subscribe().block()
            continue
        inner = ready.value  # Ok(...) of the outer result (the value is taken once)
        if isinstance(inner, Err):
            raise _failure(inner.value)
        return inner.value


def get(url: str, headers: Optional[dict[str, str]] = None, first_byte_timeout_ms: Optional[int] = None) -> Response:
    """``GET url``."""
    return request("GET", url, headers, first_byte_timeout_ms=first_byte_timeout_ms)


def post(
    url: str,
    headers: Optional[dict[str, str]] = None,
    body: Optional[bytes] = None,
    json=None,
    first_byte_timeout_ms: Optional[int] = None,
) -> Response:
    """``POST url`` with ``body``, or ``json`` encoded."""
    return request("POST", url, headers, body, json, first_byte_timeout_ms)
