"""Time that never blocks the host."""

from ._wit import imports


def now_ms() -> int:
    """Milliseconds since the Unix epoch."""
    return imports().clock.now_ms()


def sleep(ms: int) -> None:
    """Wait ``ms`` milliseconds (at most 60000 per call; counted as wall-clock, not CPU)."""
    imports().clock.sleep_ms(ms)
