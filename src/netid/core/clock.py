"""Time comes from a clock object so that tests and benchmarks can pin it."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

# Birth dates and "today" are civil dates in China Standard Time (UTC+8, no DST).
CHINA_TZ = dt.timezone(dt.timedelta(hours=8), name="Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> dt.datetime: ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class FixedClock:
    def __init__(self, at: dt.datetime) -> None:
        self._at = at

    def now(self) -> dt.datetime:
        return self._at

    def advance(self, delta: dt.timedelta) -> None:
        self._at += delta


def today_in_china(clock: Clock) -> dt.date:
    return clock.now().astimezone(CHINA_TZ).date()
