"""Config values the operator set for this plugin (``[plugins.<name>.config]``)."""

from typing import Optional

from ._wit import imports


def get(key: str) -> Optional[str]:
    return imports().config.get(key)
