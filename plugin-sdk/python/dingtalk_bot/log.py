"""Log lines the host writes with the plugin's name (bounded by the host)."""

from ._wit import imports


def _log(level: str, message: str) -> None:
    log = imports().log
    log.log(getattr(log.Level, level), str(message))


def debug(message: str) -> None:
    _log("DEBUG", message)


def info(message: str) -> None:
    _log("INFO", message)


def warn(message: str) -> None:
    _log("WARN", message)


def error(message: str) -> None:
    _log("ERROR", message)
