"""Upload files to DingTalk (to get a media id for cards and markdown) and download the
files users sent to the robot."""

from ._wit import imports
from .errors import host_call

#: DingTalk's media kinds: ``"image"``, ``"voice"``, ``"video"``, ``"file"``.
KINDS = ("image", "voice", "video", "file")


def upload(kind: str, filename: str, data: bytes) -> str:
    """Upload ``data`` as ``filename``; the media id (``@…``). The host checks
    DingTalk's type and size limits first and says which one failed."""
    kinds = imports().media.MediaKind
    if kind not in KINDS:
        raise ValueError(f"media kind {kind!r} is not one of {KINDS}")
    return host_call(imports().media.upload, getattr(kinds, kind.upper()), filename, bytes(data))


def download(download_code: str, max_bytes: int) -> bytes:
    """Download a file of the message being handled, refusing more than ``max_bytes``."""
    return host_call(imports().media.download, download_code, max_bytes)
