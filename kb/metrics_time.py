"""Time arithmetic for metrics: business minutes in O(1) per interval, and summary statistics.

`BusinessClock.minutes(a, b)` equals `BusinessCalendar.business_minutes_between` for the same
moments, but looks days up in a precomputed table instead of walking them, so a metric over
a million intervals stays fast. Moments are POSIX timestamps (seconds, UTC).
"""

from __future__ import annotations

import math
import statistics
from bisect import bisect_right
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

from kb.calendar import BusinessCalendar
from kb.clock import parse_iso

# The day table grows in steps of at least this many days, so extending it is rare.
_GROWTH_DAYS = 366


def epoch(value: str | None) -> float | None:
    """A stored ISO 8601 time as a POSIX timestamp (None stays None)."""
    return parse_iso(value).timestamp() if value else None


class BusinessClock:
    """Open minutes between two moments on a business calendar, via a cumulative day table."""

    def __init__(self, calendar: BusinessCalendar) -> None:
        self.calendar = calendar
        self._first: date | None = None
        self._last: date | None = None
        self._covered = (math.inf, -math.inf)  # moments the day table spans: [first midnight, last midnight)
        self._midnights: list[float] = []
        self._days: list[tuple[float, float, float]] = []  # (opens, closes, open seconds before the day)

    def minutes(self, start: float, end: float) -> float:
        """Open minutes in [start, end); 0 when end is not after start."""
        if end <= start:
            return 0.0
        if not (self._covered[0] <= start and end < self._covered[1]):
            self._cover(start, end)
        return (self._cumulative(end) - self._cumulative(start)) / 60.0

    def _cumulative(self, moment: float) -> float:
        index = bisect_right(self._midnights, moment) - 1
        opens, closes, before = self._days[index]
        return before + min(max(moment - opens, 0.0), closes - opens)

    def _local_date(self, moment: float) -> date:
        return datetime.fromtimestamp(moment, self.calendar.zone).date()

    def _cover(self, start: float, end: float) -> None:
        """Make sure the day table spans both moments (growing by a year at a time)."""
        first, last = self._local_date(start), self._local_date(end)
        one_day = timedelta(days=1)
        if self._first is None or self._last is None:
            self._build(first - one_day, last + one_day)
            return
        if self._first <= first and last <= self._last:
            return
        low = min(first - one_day, self._first - timedelta(days=_GROWTH_DAYS)) if first < self._first else self._first
        high = max(last + one_day, self._last + timedelta(days=_GROWTH_DAYS)) if last > self._last else self._last
        self._build(low, high)

    def _build(self, first: date, last: date) -> None:
        zone, midnights, days, before = self.calendar.zone, [], [], 0.0
        day = first
        while day <= last:
            midnight = datetime.combine(day, time(0), tzinfo=zone).timestamp()
            if self.calendar.is_working_day(day):
                opens = datetime.combine(day, self.calendar.opens, tzinfo=zone).timestamp()
                closes = datetime.combine(day, self.calendar.closes, tzinfo=zone).timestamp()
            else:
                opens = closes = midnight
            midnights.append(midnight)
            days.append((opens, closes, before))
            before += closes - opens
            day += timedelta(days=1)
        self._first, self._last, self._midnights, self._days = first, last, midnights, days
        self._covered = (midnights[0], midnights[-1])


def nearest_rank(values: Sequence[float], share: float) -> float | None:
    """The nearest-rank percentile: the ceil(share·n)-th smallest value (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered)), 1) - 1]


def summary(values: Sequence[float]) -> dict[str, float | int | None]:
    """Count, average, median (mean of the middle two for even counts) and p90 (nearest rank), 2 decimals."""
    if not values:
        return {"count": 0, "average": None, "median": None, "p90": None}
    return {"count": len(values), "average": round(statistics.fmean(values), 2),
            "median": round(statistics.median(values), 2), "p90": round(nearest_rank(values, 0.9) or 0.0, 2)}


def rate(part: int, whole: int) -> float | None:
    """part / whole to 4 decimals; None when there is nothing to divide by."""
    return round(part / whole, 4) if whole else None
