"""The generated bindings.

Imported when the SDK is, so componentize-py's build-time snapshot already holds
them and a fresh instance per frame does not import them again (that import costs
more than a frame). Outside a component (unit tests of the pure-Python parts) they do
not exist, and only the host calls fail.
"""

try:
    from componentize_py_types import Err
    from wit_world import imports as _imports
except ImportError:  # outside a component
    Err = None
    _imports = None


def imports():
    if _imports is None:
        raise RuntimeError("dingtalk_bot host calls work only inside a plugin component")
    return _imports
