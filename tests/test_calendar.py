"""Business calendar: fixed examples (Shanghai hours, National Day, Berlin DST) and properties."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kb.calendar import BusinessCalendar, parse_calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")

DEFAULT = BusinessCalendar()
NATIONAL_DAY = parse_calendar(
    "Asia/Shanghai",
    "09:00-18:30",
    "1-5",
    ",".join(f"2026-10-0{d}" for d in range(1, 8)),
    "2026-10-10",
)
BERLIN_OFFICE = parse_calendar("Europe/Berlin", "09:00-17:00", "1-5", "")
BERLIN_NIGHT = parse_calendar("Europe/Berlin", "01:00-05:00", "1-7", "")


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


# 2026-03-06 is a Friday, 2026-03-09 the Monday after.
@pytest.mark.parametrize(
    ("start", "minutes", "due"),
    [
        (sh(2026, 3, 6, 17, 0), 120, sh(2026, 3, 9, 9, 30)),  # 90 on Friday, 30 on Monday
        (sh(2026, 3, 6, 17, 0), 90, sh(2026, 3, 6, 18, 30)),  # ends exactly at closing
        (sh(2026, 3, 6, 18, 30), 0, sh(2026, 3, 6, 18, 30)),
        (sh(2026, 3, 6, 18, 30), 1, sh(2026, 3, 9, 9, 1)),
        (sh(2026, 1, 6, 18, 0), 60, sh(2026, 1, 7, 9, 30)),  # Tuesday night to Wednesday
        (sh(2026, 3, 7, 11, 0), 30, sh(2026, 3, 9, 9, 30)),  # Saturday start
        (sh(2026, 3, 9, 7, 15), 45, sh(2026, 3, 9, 9, 45)),  # before opening
        (sh(2026, 3, 9, 9, 0), 570, sh(2026, 3, 9, 18, 30)),  # one whole day
        (sh(2026, 3, 9, 9, 0), 571, sh(2026, 3, 10, 9, 1)),
        (sh(2026, 3, 9, 10, 0), 0.5, sh(2026, 3, 9, 10, 0, 30)),
    ],
)
def test_add_business_minutes_default_calendar(start: datetime, minutes: float, due: datetime):
    result = DEFAULT.add_business_minutes(start, minutes)
    assert result == due
    assert result.tzinfo == SHANGHAI


def test_zero_minutes_from_a_closed_moment_is_due_immediately():
    saturday = sh(2026, 3, 7, 3, 0)
    assert DEFAULT.add_business_minutes(saturday, 0) == saturday


@pytest.mark.parametrize(
    ("start", "minutes", "due"),
    [
        (sh(2026, 9, 30, 17, 30), 120, sh(2026, 10, 8, 10, 0)),  # over the Golden Week
        (sh(2026, 10, 3, 12, 0), 10, sh(2026, 10, 8, 9, 10)),  # start inside the holiday
        (sh(2026, 10, 9, 17, 30), 120, sh(2026, 10, 10, 10, 0)),  # Saturday 10-10 is 调休
        (sh(2026, 10, 10, 18, 0), 60, sh(2026, 10, 12, 9, 30)),  # Sunday 10-11 stays closed
    ],
)
def test_national_day_holidays_and_makeup_saturday(start: datetime, minutes: int, due: datetime):
    assert NATIONAL_DAY.add_business_minutes(start, minutes) == due


def test_working_days_and_open_moments():
    assert not NATIONAL_DAY.is_working_day(date(2026, 10, 1))
    assert NATIONAL_DAY.is_working_day(date(2026, 10, 10))
    assert not NATIONAL_DAY.is_working_day(date(2026, 10, 11))
    assert DEFAULT.is_open(sh(2026, 3, 9, 9, 0))
    assert not DEFAULT.is_open(sh(2026, 3, 9, 18, 30))
    assert not DEFAULT.is_open(sh(2026, 3, 9, 8, 59))
    assert not NATIONAL_DAY.is_open(sh(2026, 10, 5, 12, 0))
    assert DEFAULT.minutes_per_day() == 570


def test_minutes_between_across_weekend_and_holidays():
    assert DEFAULT.business_minutes_between(sh(2026, 3, 6, 17, 0), sh(2026, 3, 9, 10, 30)) == 180
    assert DEFAULT.business_minutes_between(sh(2026, 3, 9, 10, 30), sh(2026, 3, 6, 17, 0)) == 0
    # 09-30, 10-08, 10-09 and the make-up Saturday 10-10 are the only open days.
    minutes = NATIONAL_DAY.business_minutes_between(sh(2026, 9, 30, 9, 0), sh(2026, 10, 12, 9, 0))
    assert minutes == 4 * 570


def test_utc_inputs_give_shanghai_results():
    friday_1700_shanghai = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)
    due = DEFAULT.add_business_minutes(friday_1700_shanghai, 120)
    assert due.tzinfo == SHANGHAI and due.utcoffset() == timedelta(hours=8)
    assert due.astimezone(UTC) == datetime(2026, 3, 9, 1, 30, tzinfo=UTC)
    new_york = timezone(timedelta(hours=-5))
    assert DEFAULT.is_open(datetime(2026, 3, 8, 21, 0, tzinfo=new_york))  # Monday 10:00


def test_berlin_spring_forward_week():
    # Clocks go forward on Sunday 2026-03-29; Monday opens at 09:00 CEST.
    due = BERLIN_OFFICE.add_business_minutes(berlin(2026, 3, 27, 16, 0), 120)
    assert due == berlin(2026, 3, 30, 10, 0)
    assert due.utcoffset() == timedelta(hours=2)
    assert due.astimezone(UTC) == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)
    minutes = BERLIN_OFFICE.business_minutes_between(berlin(2026, 3, 27, 9), berlin(2026, 3, 30, 9))
    assert minutes == 480


def test_berlin_dst_days_are_shorter_and_longer():
    spring, autumn = date(2026, 3, 29), date(2026, 10, 25)
    assert _open_minutes(BERLIN_NIGHT, spring) == 180  # 02:00-03:00 does not exist
    assert _open_minutes(BERLIN_NIGHT, autumn) == 300  # 02:00-03:00 happens twice
    due = BERLIN_NIGHT.add_business_minutes(berlin(2026, 3, 29, 1, 0), 180)
    assert due == berlin(2026, 3, 29, 5, 0)


def _open_minutes(calendar: BusinessCalendar, day: date) -> float:
    start = datetime.combine(day, time(0), tzinfo=BERLIN)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=BERLIN)
    return calendar.business_minutes_between(start, end)


def test_large_minute_counts_are_fast_and_exact():
    start = sh(2026, 3, 6, 17, 0)
    due = NATIONAL_DAY.add_business_minutes(start, 100_000)
    assert NATIONAL_DAY.business_minutes_between(start, due) == 100_000


def test_parse_calendar_fields():
    calendar = parse_calendar("Europe/Berlin", " 8:30 - 17:00 ", "1-3, 5,7", "", "2026-10-10")
    assert calendar.opens == time(8, 30) and calendar.closes == time(17, 0)
    assert calendar.workdays == frozenset({0, 1, 2, 4, 6})
    assert calendar.holidays == frozenset()
    assert calendar.extra_workdays == frozenset({date(2026, 10, 10)})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("Mars/Olympus", "09:00-18:30", "1-5", ""), "Mars/Olympus"),
        (("", "09:00-18:30", "1-5", ""), "IANA"),
        (("UTC", "9-18", "1-5", ""), "HH:MM-HH:MM"),
        (("UTC", "18:30-09:00", "1-5", ""), "HH:MM-HH:MM"),
        (("UTC", "09:00-09:00", "1-5", ""), "HH:MM-HH:MM"),
        (("UTC", "09:00-25:00", "1-5", ""), "HH:MM-HH:MM"),
        (("UTC", "09:00-18:30", "0-5", ""), "1 (Mon)..7 (Sun)"),
        (("UTC", "09:00-18:30", "5-1", ""), "1 (Mon)..7 (Sun)"),
        (("UTC", "09:00-18:30", "mon-fri", ""), "range like '1-5'"),
        (("UTC", "09:00-18:30", "", ""), "names no day"),
        (("UTC", "09:00-18:30", "1-5", "2026-13-01"), "YYYY-MM-DD"),
        (("UTC", "09:00-18:30", "1-5", "", "10/10/2026"), "YYYY-MM-DD"),
        (("UTC", "09:00-18:30", "1-5", "2026-10-10", "2026-10-10"), "remove it from one"),
    ],
)
def test_parse_calendar_errors_say_what_to_fix(args: tuple[str, ...], message: str):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_calendar(*args)


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match=">= 0"):
        DEFAULT.add_business_minutes(sh(2026, 3, 9, 10, 0), -1)
    with pytest.raises(ValueError, match="aware datetime"):
        DEFAULT.is_open(datetime(2026, 3, 9, 10, 0))


# Property tests compare in UTC: aware datetimes sharing a tzinfo compare by wall time,
# which misorders the imaginary (DST-gap) moments Hypothesis generates.
CALENDARS = st.sampled_from([DEFAULT, NATIONAL_DAY, BERLIN_OFFICE, BERLIN_NIGHT])
ZONES = st.sampled_from([UTC, SHANGHAI, BERLIN, ZoneInfo("America/New_York")])
MOMENTS = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31, 23, 59), timezones=ZONES
)
MINUTES = st.floats(min_value=0, max_value=20_000, allow_nan=False) | st.integers(0, 20_000)


@settings(max_examples=200, deadline=None)
@given(calendar=CALENDARS, start=MOMENTS, minutes=MINUTES)
def test_minutes_between_inverts_add(calendar: BusinessCalendar, start: datetime, minutes: float):
    due = calendar.add_business_minutes(start, minutes)
    assert due.astimezone(UTC) >= start.astimezone(UTC)
    assert calendar.business_minutes_between(start, due) == pytest.approx(minutes, abs=1e-6)


@settings(max_examples=200, deadline=None)
@given(calendar=CALENDARS, start=MOMENTS, end=MOMENTS)
def test_add_of_minutes_between_does_not_pass_end(
    calendar: BusinessCalendar, start: datetime, end: datetime
):
    minutes = calendar.business_minutes_between(start, end)
    due = calendar.add_business_minutes(start, minutes).astimezone(UTC)
    assert due <= max(start.astimezone(UTC), end.astimezone(UTC))


@settings(max_examples=200, deadline=None)
@given(calendar=CALENDARS, start=MOMENTS, a=MINUTES, b=MINUTES)
def test_more_minutes_never_give_an_earlier_deadline(
    calendar: BusinessCalendar, start: datetime, a: float, b: float
):
    low, high = sorted((a, b))
    earlier = calendar.add_business_minutes(start, low).astimezone(UTC)
    assert earlier <= calendar.add_business_minutes(start, high).astimezone(UTC)
