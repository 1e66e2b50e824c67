"""A frame's ``data`` as JSON, read the same way in every SDK."""

from __future__ import annotations

import json
from typing import Any


def json_or_empty(data: str) -> Any:
    """The parsed data; an empty body is an empty object."""
    return {} if data.strip() == "" else json.loads(data)
