"""Clocks for the mock: integer unix seconds, injectable.

`ManualClock` only moves when told to (tests, `--clock manual`, the admin API).
`WallClock` follows real time, optionally sped up by `time_scale` (2.0 = twice as fast)
so that calls lasting minutes finish in seconds when the mock is served.
Neither ever goes backwards.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

#: 2026-01-01T00:00:00Z: where a ManualClock starts unless told otherwise.
DEFAULT_START = 1_767_225_600
#: The range a clock may show: 1970-01-01 .. 9999-12-31T23:59:59Z (a Date header and any
#: client's date type can carry it).
MIN_TIME, MAX_TIME = 0, 253_402_300_799


def _in_range(timestamp: int) -> int:
    if not MIN_TIME <= timestamp <= MAX_TIME:
        raise ValueError(f"a clock shows {MIN_TIME}..{MAX_TIME} (year 9999), not {timestamp}")
    return timestamp


class Clock(Protocol):
    def now(self) -> int: ...


class ManualClock:
    """A clock that only moves when `advance` or `set` is called."""

    kind = "manual"

    def __init__(self, start: int = DEFAULT_START) -> None:
        self._now = _in_range(int(start))
        self._lock = threading.Lock()

    def now(self) -> int:
        return self._now

    def advance(self, seconds: int) -> int:
        seconds = int(seconds)
        if seconds < 0:
            raise ValueError("a clock never goes backwards (seconds must be >= 0)")
        with self._lock:
            self._now = _in_range(self._now + seconds)
            return self._now

    def set(self, timestamp: int) -> int:
        timestamp = int(timestamp)
        with self._lock:
            if timestamp < self._now:
                raise ValueError(f"a clock never goes backwards ({timestamp} < {self._now})")
            self._now = _in_range(timestamp)
            return self._now


class WallClock:
    """Real time in whole seconds; `time_scale` > 1 makes mock time pass faster.

    With a scale, time starts at the real time of construction and then runs
    `time_scale` times faster than the wall clock. `skew` puts it that many seconds ahead
    of the machine's clock (`--clock-skew`: a vendor's clock differs from the client's).
    """

    kind = "wall"

    def __init__(self, time_scale: float = 1.0, _time=time.time, *, skew: float = 0.0) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        self.time_scale = float(time_scale)
        self.skew = float(skew)   # seconds this server's clock is ahead (< 0: behind)
        self._time = _time
        self._origin = _time()
        self._last = int(self._origin + self.skew)

    def now(self) -> int:
        real = self._time()
        value = min(MAX_TIME, int(self._origin + self.skew
                                 + (real - self._origin) * self.time_scale))
        # Monotonic even if the system clock steps back.
        if value < self._last:
            return self._last
        self._last = value
        return value
