"""The generated bindings.

Imported when the SDK is, so componentize-py's build-time snapshot already holds
them and a fresh instance per frame does not import them again (that import costs
more than a frame). Outside a component (unit tests of the pure-Python parts) they do
not exist, and only the host calls fail.
"""

try:
    from componentize_py_types import Err
    from wit_world import imports as _imports

    # Submodules nothing else imports: loaded here, so they are attributes of
    # `imports` (and part of the snapshot).
    import wit_world.imports.monotonic_clock  # noqa: F401
    import wit_world.imports.outgoing_handler  # noqa: F401
    import wit_world.imports.poll  # noqa: F401
    import wit_world.imports.streams  # noqa: F401
    import wit_world.imports.wasi_http_types  # noqa: F401
except ImportError:  # outside a component
    Err = None
    _imports = None


# The world is `python-plugin` (`plugin` plus wasi:http's client): with two `types`
# interfaces, componentize-py names them `dingtalk_bot_types` and `wasi_http_types`.
def imports():
    if _imports is None:
        raise RuntimeError("dingtalk_bot host calls work only inside a plugin component")
    return _imports
