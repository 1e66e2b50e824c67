"""Errors crossing the plugin boundary.

Host calls raise ``HostError`` carrying the WIT error (``.kind`` is its case:
``dingtalk``, ``timeout``, ``network``, ``invalid-argument``, ``denied``,
``plugin``, ``limit``, ``unavailable``). A handler fails a frame by raising
``PluginError`` (or any exception: its text becomes the reason).
"""


class PluginError(Exception):
    """The handler's own failure: the frame gets an error ACK with this reason."""


class HostError(Exception):
    """A host call failed; ``kind`` names the WIT error case, ``reason`` its text."""

    def __init__(self, kind: str, reason: str, value=None):
        super().__init__(f"{kind}: {reason}")
        self.kind = kind
        self.reason = reason
        self.value = value


def _kind(value) -> str:
    name = type(value).__name__  # e.g. Error_Denied
    return name.split("_", 1)[-1].lower().replace("invalidargument", "invalid-argument")


def host_call(f, *args):
    """Call the import ``f``; a WIT error becomes a ``HostError``."""
    from ._wit import Err

    try:
        return f(*args)
    except Err as e:
        value = e.value
        payload = getattr(value, "value", value)
        reason = getattr(payload, "message", payload)
        raise HostError(_kind(value), str(reason), value) from None
