"""Key-value state of this plugin (and app): keys are strings, values bytes.

Only this plugin's namespace is reachable. ``ttl_ms`` makes a value expire.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterator, Optional, Protocol

from ._wit import imports
from .errors import HostError, host_call

#: How often ``update`` tries before giving up: the same bound in every SDK.
UPDATE_ATTEMPTS = 16


def get(key: str) -> Optional[bytes]:
    """The value at ``key`` (``None`` when unset or expired)."""
    return host_call(imports().kv.get, key)


def set(key: str, value: bytes | str, ttl_ms: Optional[int] = None) -> None:  # noqa: A001
    """Set ``key`` (text is stored as UTF-8)."""
    host_call(imports().kv.set, key, _bytes(value), ttl_ms)


def delete(key: str) -> bool:
    """Remove ``key``; whether it was set."""
    return host_call(imports().kv.delete, key)


def exists(key: str) -> bool:
    """Whether ``key`` is set."""
    return host_call(imports().kv.exists, key)


def increment(key: str, delta: int = 1) -> int:
    """Add ``delta`` to the decimal integer at ``key`` (0 when unset); the new value."""
    return host_call(imports().kv.increment, key, delta)


def compare_and_swap(key: str, expected: Optional[bytes | str], new: bytes | str, ttl_ms: Optional[int] = None) -> bool:
    """Set ``new`` only if ``key`` holds ``expected`` (``None``: is unset)."""
    return host_call(
        imports().kv.compare_and_swap, key, None if expected is None else _bytes(expected), _bytes(new), ttl_ms
    )


def get_json(key: str) -> Any:
    """The JSON value at ``key`` (``None`` when unset)."""
    raw = get(key)
    return None if raw is None else json.loads(raw)


def set_json(key: str, value: Any, ttl_ms: Optional[int] = None) -> None:
    """Set ``key`` to ``value`` as JSON."""
    set(key, json.dumps(value, ensure_ascii=False).encode(), ttl_ms)


def keys(prefix: str = "") -> Iterator[str]:
    """Every key starting with ``prefix``, in byte order, a page at a time."""
    cursor = None
    while True:
        page = host_call(imports().kv.list_keys, prefix, cursor, 100)
        yield from page.keys
        if page.cursor is None:
            return
        cursor = page.cursor


def get_many(keys: list[str]) -> list[Optional[bytes]]:
    """The values of several keys, in order."""
    return host_call(imports().kv.get_many, list(keys))


def set_many(entries: list[tuple[str, bytes]], ttl_ms: Optional[int] = None) -> None:
    """Set several keys at once (all or none)."""
    host_call(imports().kv.set_many, [(k, bytes(v)) for k, v in entries], ttl_ms)


def get_text(key: str) -> Optional[str]:
    """The value at ``key`` as UTF-8 text."""
    raw = get(key)
    return None if raw is None else raw.decode()


class Cas(Protocol):
    """The two operations ``update`` needs (the host's, or a scripted store in tests)."""

    def get(self, key: str) -> Optional[bytes]: ...

    def compare_and_swap(self, key: str, expected: Optional[bytes], new: bytes, ttl_ms: Optional[int]) -> bool: ...


class _Host:
    get = staticmethod(get)
    compare_and_swap = staticmethod(compare_and_swap)


def update(key: str, f: Callable[[Any], Any], ttl_ms: Optional[int] = None) -> Any:
    """Replace the JSON value at ``key`` with ``f(old)`` (``old`` is ``None`` when
    unset) without losing a concurrent writer's change: compare-and-swap, at most
    ``UPDATE_ATTEMPTS`` tries, then ``HostError`` of kind ``unavailable``. The value
    written. The same contract and argument order as the Rust and TypeScript SDKs."""
    return update_in(_Host, key, f, ttl_ms)


def update_in(store: Cas, key: str, f: Callable[[Any], Any], ttl_ms: Optional[int] = None) -> Any:
    """``update`` against any ``Cas`` store (``plugin-sdk/conformance/kv-update.json``)."""
    for _ in range(UPDATE_ATTEMPTS):
        old_raw = store.get(key)
        new = f(None if old_raw is None else json.loads(old_raw))
        if store.compare_and_swap(key, old_raw, json.dumps(new, ensure_ascii=False).encode(), ttl_ms):
            return new
    raise HostError(
        "unavailable", f"{json.dumps(key, ensure_ascii=False)} kept changing: {UPDATE_ATTEMPTS} compare-and-swap attempts failed"
    )


def _bytes(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)
