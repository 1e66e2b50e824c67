"""Log lines the host writes with the plugin's name (bounded by the host)."""

from ._wit import imports


def _log(level: str, message: object) -> None:
    log = imports().log
    log.log(getattr(log.Level, level), str(message))


def trace(message: object) -> None:
    _log("TRACE", message)


def debug(message: object) -> None:
    _log("DEBUG", message)


def info(message: object) -> None:
    _log("INFO", message)


def warn(message: object) -> None:
    _log("WARN", message)


def error(message: object) -> None:
    _log("ERROR", message)
