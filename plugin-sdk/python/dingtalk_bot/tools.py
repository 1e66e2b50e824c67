"""Tools, as an agent calls them: the ones the operator granted, through the host,
which runs each in a fresh instance of the tool's plugin, refuses tools the grant
does not list and keeps the turn's bounds (a ``limit`` error names the bound).
Offering a tool is ``Plugin.tool``."""

from __future__ import annotations

from typing import Any

from ._wit import imports
from .errors import host_call


def _tools():
    return imports().tools


def list_tools() -> list:
    """The tools granted to this plugin (``list`` in the other SDKs; ``list`` is a
    Python builtin)."""
    return host_call(lambda: _tools().list())


def call(name: str, arguments: str) -> Any:
    """Call a granted tool with a JSON object (as text): ``Called_Ok``,
    ``Called_Failed`` or ``Called_Pending``."""
    return host_call(lambda: _tools().call(name, arguments))


def budget() -> Any:
    """What this turn may still spend."""
    return _tools().budget()


def spend(tokens: int) -> int:
    """Count tokens a model used; the tokens left today."""
    return _tools().spend(tokens)


def settle(id: str, decision: Any) -> Any:
    """Settle an approval as the person behind this frame."""
    return host_call(lambda: _tools().settle(id, decision))
