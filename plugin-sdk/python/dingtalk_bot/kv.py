"""Key-value state of this plugin (and app): keys are strings, values bytes.

Only this plugin's namespace is reachable. ``ttl_ms`` makes a value expire.
"""

from __future__ import annotations

import json
from typing import Any, Iterator, Optional

from ._wit import imports
from .errors import host_call


def get(key: str) -> Optional[bytes]:
    return host_call(imports().kv.get, key)


def set(key: str, value: bytes, ttl_ms: Optional[int] = None) -> None:  # noqa: A001
    host_call(imports().kv.set, key, bytes(value), ttl_ms)


def delete(key: str) -> bool:
    return host_call(imports().kv.delete, key)


def exists(key: str) -> bool:
    return host_call(imports().kv.exists, key)


def increment(key: str, delta: int = 1) -> int:
    """Add ``delta`` to the decimal integer at ``key`` (0 when unset); the new value."""
    return host_call(imports().kv.increment, key, delta)


def compare_and_swap(key: str, expected: Optional[bytes], new: bytes, ttl_ms: Optional[int] = None) -> bool:
    """Set ``new`` only if ``key`` holds ``expected`` (``None``: is unset)."""
    return host_call(imports().kv.compare_and_swap, key, expected, bytes(new), ttl_ms)


def get_json(key: str) -> Any:
    raw = get(key)
    return None if raw is None else json.loads(raw)


def set_json(key: str, value: Any, ttl_ms: Optional[int] = None) -> None:
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


def update(key: str, f, ttl_ms: Optional[int] = None) -> Any:
    """Replace the JSON value at ``key`` with ``f(old)`` atomically (retrying on a
    concurrent change); the new value."""
    while True:
        old_raw = get(key)
        new = f(None if old_raw is None else json.loads(old_raw))
        if compare_and_swap(key, old_raw, json.dumps(new, ensure_ascii=False).encode(), ttl_ms):
            return new
