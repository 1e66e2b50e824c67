"""The generated bindings.

Imported when the SDK is, so componentize-py's build-time snapshot already holds
them and a fresh instance per frame does not import them again (that import costs
more than a frame). Outside a component (unit tests of the pure-Python parts) they do
not exist, and only the host calls fail.
"""

try:
    from componentize_py_types import Err
    from wit_world import imports as _imports

    # Every submodule the SDK reaches as an attribute of `imports`: a submodule is
    # one only once imported (and importing it here puts it in the snapshot).
    import wit_world.imports.cards  # noqa: F401
    import wit_world.imports.clock  # noqa: F401
    import wit_world.imports.config  # noqa: F401
    import wit_world.imports.dingtalk_bot_types  # noqa: F401
    import wit_world.imports.kv  # noqa: F401
    import wit_world.imports.log  # noqa: F401
    import wit_world.imports.media  # noqa: F401
    import wit_world.imports.messages  # noqa: F401
    import wit_world.imports.monotonic_clock  # noqa: F401
    import wit_world.imports.openapi  # noqa: F401
    import wit_world.imports.outgoing_handler  # noqa: F401
    import wit_world.imports.poll  # noqa: F401
    import wit_world.imports.reply  # noqa: F401
    import wit_world.imports.streams  # noqa: F401
    import wit_world.imports.tools  # noqa: F401
    import wit_world.imports.wasi_http_types  # noqa: F401
except ImportError:  # outside a component
    Err = None
    _imports = None


# The world is `python-plugin` (`plugin` plus wasi:http's client): with two `types`
# interfaces, componentize-py names them `dingtalk_bot_types` and `wasi_http_types`.
def imports():
    if _warming:
        raise WarmingUp("no host calls while the component is warmed up at build")
    if _imports is None:
        raise RuntimeError("dingtalk_bot host calls work only inside a plugin component")
    return _imports


class WarmingUp(Exception):
    """A host call made by the build-time warm-up, which makes none."""


_warming = False


def warming(on: bool) -> None:
    """Refuse every host call (``on``), or allow them again."""
    global _warming
    _warming = on
