"""The generated bindings, imported on first use so the pure-Python parts of the SDK
(message decoding) also run outside a component, e.g. in unit tests."""


def imports():
    from wit_world import imports

    return imports
