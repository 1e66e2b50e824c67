"""Errors crossing the plugin boundary: one model in every SDK
(``plugin-sdk/conformance/errors.json``).

Host calls raise ``HostError`` carrying the WIT error: ``kind`` is its case
(``dingtalk``, ``timeout``, ``network``, ``invalid-argument``, ``denied``,
``plugin``, ``limit``, ``unavailable``), ``reason`` one line saying what went wrong
(also ``str(e)``), ``dingtalk`` DingTalk's own ``DingtalkError(status, code,
message)`` for the ``dingtalk`` case. A handler fails a frame by raising: a
``HostError`` reaches the ACK as its own case, anything else (``PluginError``,
``TypeError``, ...) as the ``plugin`` case with ``Name: message``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional

#: The WIT error cases, by the names every SDK uses.
KINDS = ("dingtalk", "timeout", "network", "invalid-argument", "denied", "plugin", "limit", "unavailable")


class PluginError(Exception):
    """The handler's own failure: the frame gets an error ACK with this reason."""


@dataclass(frozen=True)
class DingtalkError:
    """DingTalk's own answer to a failed call."""

    status: int
    code: str
    message: str


def describe(kind: str, text: str, dingtalk: Optional[DingtalkError] = None) -> str:
    """One line for a WIT error, the same text in every SDK."""
    if kind == "dingtalk" and dingtalk is not None:
        return f"DingTalk answered HTTP {dingtalk.status}, code {_quoted(dingtalk.code)}: {dingtalk.message}"
    if kind == "invalid-argument":
        return f"invalid argument: {text}"
    if kind == "plugin":
        return text
    return f"{kind}: {text}"


def _quoted(code: str) -> str:
    """The code quoted as JSON writes it (as the other SDKs do)."""
    return json.dumps(code, ensure_ascii=False)


class HostError(Exception):
    """A host call failed."""

    def __init__(self, kind: str, text: str, dingtalk: Optional[DingtalkError] = None):
        if kind not in KINDS:
            raise ValueError(f"{kind!r} is not a WIT error case")
        self.kind = kind
        #: The case's own text (for ``dingtalk``: DingTalk's message).
        self.text = dingtalk.message if dingtalk is not None else text
        self.dingtalk = dingtalk
        self.reason = describe(kind, self.text, dingtalk)
        super().__init__(self.reason)

    @classmethod
    def from_case(cls, kind: str, value) -> "HostError":
        """The error for a WIT case and its payload (a ``{status, code, message}``
        mapping for ``dingtalk``, else its text)."""
        if kind == "dingtalk":
            d = DingtalkError(int(value["status"]), str(value["code"]), str(value["message"]))
            return cls(kind, d.message, d)
        return cls(kind, str(value))

    @classmethod
    def from_wit(cls, value) -> "HostError":
        """The SDK's error for a generated WIT error value (``Error_Denied(value=...)``)."""
        name = type(value).__name__.split("_", 1)[-1]  # e.g. InvalidArgument
        kind = "".join("-" + c.lower() if c.isupper() else c for c in name).lstrip("-")
        payload = getattr(value, "value", "")
        if kind == "dingtalk":
            payload = {"status": payload.status, "code": payload.code, "message": payload.message}
        return cls.from_case(kind, payload)

    def case(self) -> tuple[str, object]:
        """The WIT case and its payload, as ``from_case`` takes them."""
        if self.dingtalk is not None:
            d = self.dingtalk
            return self.kind, {"status": d.status, "code": d.code, "message": d.message}
        return self.kind, self.text

    def to_wit(self, types):
        """As the generated WIT error (``types`` is the bindings' types module)."""
        if self.kind == "dingtalk" and self.dingtalk is not None:
            d = self.dingtalk
            return types.Error_Dingtalk(types.DingtalkError(d.status, d.code, d.message))
        case = "".join(part.capitalize() for part in self.kind.split("-"))
        return getattr(types, f"Error_{case}")(self.text)


def host_call(f, *args):
    """Call the import ``f``; a WIT error becomes a ``HostError``."""
    from ._wit import Err

    try:
        return f(*args)
    except Err as e:
        raise HostError.from_wit(e.value) from None
