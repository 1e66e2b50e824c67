"""Other DingTalk OpenAPI calls, authenticated by the host (only granted paths)."""

from __future__ import annotations

import json
from typing import Any

from ._wit import imports
from .errors import host_call

_ABSENT = object()


def call(method: str, path: str, body: Any = _ABSENT) -> Any:
    """``method`` ``path`` with an optional JSON body; the JSON answer."""
    text = None if body is _ABSENT else json.dumps(body, ensure_ascii=False)
    return json.loads(host_call(imports().openapi.call, method, path, text))
