"""The clock the runner reads: wall time (`now`, aware UTC), a monotonic count of
seconds for durations, and a sleep. The runner's loop is its only reader; every
decision takes `now` as an argument. `testing.FakeClock` stands in for it in tests."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The wall time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for deadlines and waits)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait `seconds` (none when not positive)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)
