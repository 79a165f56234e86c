"""Business calendar for SLA deadlines: opening hours, workdays, holidays and make-up days.

A day's open period is taken from the local wall-clock times on that date in the calendar's
zone, so a DST change shortens or lengthens that day. All arithmetic is done in UTC; results
come back as aware datetimes in the calendar's zone.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_ONE_DAY = timedelta(days=1)
_ONE_MINUTE = timedelta(minutes=1)
# Stops the day-by-day search on a calendar that never opens again (no workdays left).
_MAX_CLOSED_DAYS = 3660
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class BusinessCalendar:
    """Opening hours on working days in one timezone; holidays close a whole day."""

    timezone: str = "Asia/Shanghai"
    opens: time = time(9, 0)
    closes: time = time(18, 30)
    workdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})  # Monday = 0
    holidays: frozenset[date] = frozenset()  # closed all day
    extra_workdays: frozenset[date] = frozenset()  # 调休: weekend days that are working days

    def __post_init__(self) -> None:
        _zone(self.timezone)
        if self.opens >= self.closes:
            raise ValueError(
                f"opening hours {self.opens:%H:%M}-{self.closes:%H:%M} are empty; "
                "opens must be earlier than closes"
            )
        if not self.workdays or not self.workdays <= set(range(7)):
            raise ValueError("workdays must be a non-empty set of weekday numbers 0 (Mon)..6 (Sun)")
        both = sorted(self.holidays & self.extra_workdays)
        if both:
            raise ValueError(
                f"{', '.join(map(str, both))} listed as both holiday and extra workday; "
                "remove it from one of the lists"
            )

    @property
    def zone(self) -> ZoneInfo:
        """The calendar's timezone."""
        return _zone(self.timezone)

    def is_working_day(self, day: date) -> bool:
        """True when the office opens on this local date (holidays and 调休 included)."""
        if day in self.holidays:
            return False
        return day in self.extra_workdays or day.weekday() in self.workdays

    def is_open(self, at: datetime) -> bool:
        """True when `at` falls inside opening hours; the closing moment itself is closed."""
        moment = _utc(at)
        span = self._open_span(self._local_date(moment), moment)
        # The span is clipped to start no earlier than `moment`, so it starts there only if open.
        return span is not None and span[0] == moment

    def minutes_per_day(self) -> float:
        """Nominal open minutes of a working day (a DST-change day may differ)."""
        opens = datetime.combine(date.min, self.opens)
        return (datetime.combine(date.min, self.closes) - opens) / _ONE_MINUTE

    def add_business_minutes(self, start: datetime, minutes: float) -> datetime:
        """The moment `minutes` of open time after `start`; 0 minutes returns `start` itself."""
        if not math.isfinite(minutes) or minutes < 0:
            raise ValueError(f"minutes must be a finite number >= 0, got {minutes!r}")
        moment = _utc(start)
        remaining = timedelta(minutes=minutes)
        if not remaining:
            return moment.astimezone(self.zone)
        for begin, end in self._spans_from(moment):
            if remaining <= end - begin:
                return (begin + remaining).astimezone(self.zone)
            remaining -= end - begin
        raise AssertionError("unreachable: _spans_from never ends")

    def business_minutes_between(self, start: datetime, end: datetime) -> float:
        """Open minutes in [start, end); 0 when end is not after start."""
        low, high = _utc(start), _utc(end)
        total = timedelta(0)
        day, last = self._local_date(low), self._local_date(high)
        while low < high and day <= last:
            span = self._open_span(day, low)
            if span is not None:
                total += max(min(span[1], high) - span[0], timedelta(0))
            day += _ONE_DAY
        return total / _ONE_MINUTE

    def _local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def _day_bounds(self, day: date) -> tuple[datetime, datetime]:
        """Opening and closing of `day` in UTC, from local wall times on that date."""
        opens = datetime.combine(day, self.opens, tzinfo=self.zone)
        closes = datetime.combine(day, self.closes, tzinfo=self.zone)
        return _utc(opens), _utc(closes)

    def _open_span(self, day: date, not_before: datetime) -> tuple[datetime, datetime] | None:
        """The part of `day`'s open period at or after `not_before`, or None if there is none."""
        if not self.is_working_day(day):
            return None
        opens, closes = self._day_bounds(day)
        begin = max(opens, not_before)
        return (begin, closes) if begin < closes else None

    def _spans_from(self, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open periods in time order, the first one clipped to start at `moment`."""
        day, closed_run = self._local_date(moment), 0
        while closed_run <= _MAX_CLOSED_DAYS:
            span = self._open_span(day, moment)
            closed_run = 0 if span else closed_run + 1
            if span:
                yield span
            day += _ONE_DAY
        raise ValueError(
            f"the calendar has no opening hours in the {_MAX_CLOSED_DAYS} days after {day}; "
            "check its workdays and holidays"
        )


def parse_calendar(
    timezone: str, hours: str, workdays: str, holidays: str, extra_workdays: str = ""
) -> BusinessCalendar:
    """Build a calendar from settings text.

    Example: ``parse_calendar("Asia/Shanghai", "09:00-18:30", "1-5", "2026-10-01", "2026-10-10")``.
    Workdays are ISO weekday numbers (1 = Monday .. 7 = Sunday) as a comma list and/or ranges.
    """
    opens, closes = _parse_hours(hours)
    return BusinessCalendar(
        timezone=timezone.strip(),
        opens=opens,
        closes=closes,
        workdays=_parse_workdays(workdays),
        holidays=_parse_dates(holidays, "holidays"),
        extra_workdays=_parse_dates(extra_workdays, "extra_workdays"),
    )


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown timezone {name!r}; use an IANA name such as 'Asia/Shanghai' or 'UTC'"
        ) from None


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no timezone; pass an aware datetime")
    return moment.astimezone(UTC)


def _parse_hours(text: str) -> tuple[time, time]:
    expected = f"hours {text!r} must look like 'HH:MM-HH:MM' with opening before closing"
    match = _HOURS.match(text)
    if not match:
        raise ValueError(f"{expected}, e.g. '09:00-18:30'")
    h1, m1, h2, m2 = map(int, match.groups())
    try:
        opens, closes = time(h1, m1), time(h2, m2)
    except ValueError:
        raise ValueError(f"{expected}; hours 00-23, minutes 00-59") from None
    if opens >= closes:
        raise ValueError(f"{expected} (on the same day)")
    return opens, closes


def _parse_workdays(text: str) -> frozenset[int]:
    days: set[int] = set()
    for token in filter(None, (part.strip() for part in text.split(","))):
        first, _, last = token.partition("-")
        if not (first.strip().isdigit() and (not last or last.strip().isdigit())):
            raise ValueError(f"workdays item {token!r} must be a day 1-7 or a range like '1-5'")
        low, high = int(first), int(last or first)
        if not 1 <= low <= high <= 7:
            raise ValueError(f"workdays item {token!r} must use days 1 (Mon)..7 (Sun), low-high")
        days.update(range(low - 1, high))
    if not days:
        raise ValueError(f"workdays {text!r} names no day; use e.g. '1-5' for Monday to Friday")
    return frozenset(days)


def _parse_dates(text: str, field: str) -> frozenset[date]:
    dates: set[date] = set()
    for token in filter(None, (part.strip() for part in text.split(","))):
        try:
            dates.add(date.fromisoformat(token))
        except ValueError:
            raise ValueError(
                f"{field} item {token!r} is not a date; use comma-separated YYYY-MM-DD"
            ) from None
    return frozenset(dates)
