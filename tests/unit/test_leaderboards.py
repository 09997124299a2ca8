"""Leaderboard runs, windows and entries: run boundaries by unit and interval, runs that follow
each participant's local calendar (several zones, DST), the daily time window, statuses, and a
property: a user's entry equals a naive sum of their events in the run and window."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.core.leaderboards import (
    Entry,
    Leaderboard,
    Movement,
    Run,
    RunUnit,
    step,
)

METRIC = uuid.uuid4()
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def board(
    start: date = date(2026, 3, 1),
    *,
    unit: RunUnit | None = "day",
    interval: int | None = 1,
    end: date | None = None,
    window: tuple[time | None, time | None] = (None, None),
) -> Leaderboard:
    return Leaderboard(
        valid_from=T0,
        valid_to=None,
        tenant="t",
        id=uuid.uuid4(),
        key="b",
        name="B",
        rank_by="metric",
        status="active",
        start=start,
        created=T0,
        end=end,
        metric_id=METRIC,
        run_unit=unit,
        run_interval=interval if unit else None,
        start_time=window[0],
        end_time=window[1],
    )


def moved(value: float) -> Movement:
    return Movement(metrics={METRIC: value}, points={}, streak_length=0, streak_changed=False)


def local(tz: str, *parts: int) -> datetime:
    """The UTC instant of a local wall-clock time (year, month, day, hour, minute, second)."""
    year, month, day, hour, minute, second = parts
    return datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(tz)).astimezone(UTC)


@pytest.mark.parametrize(
    ("start", "unit", "interval", "day", "expected"),
    [
        (date(2026, 3, 1), "day", 1, date(2026, 3, 5), Run(date(2026, 3, 5), date(2026, 3, 5))),
        # "weekly": seven days from a Monday
        (date(2026, 3, 2), "day", 7, date(2026, 3, 8), Run(date(2026, 3, 2), date(2026, 3, 8))),
        (date(2026, 3, 2), "day", 7, date(2026, 3, 9), Run(date(2026, 3, 9), date(2026, 3, 15))),
        # months from the 31st: the last day of shorter months
        (
            date(2026, 1, 31),
            "month",
            1,
            date(2026, 2, 27),
            Run(date(2026, 1, 31), date(2026, 2, 27)),
        ),
        (
            date(2026, 1, 31),
            "month",
            1,
            date(2026, 2, 28),
            Run(date(2026, 2, 28), date(2026, 3, 30)),
        ),
        (
            date(2026, 1, 31),
            "month",
            1,
            date(2026, 3, 31),
            Run(date(2026, 3, 31), date(2026, 4, 29)),
        ),
        (
            date(2026, 1, 15),
            "month",
            3,
            date(2026, 4, 14),
            Run(date(2026, 1, 15), date(2026, 4, 14)),
        ),
        (
            date(2026, 1, 15),
            "month",
            3,
            date(2026, 4, 15),
            Run(date(2026, 4, 15), date(2026, 7, 14)),
        ),
        # years from 29 February
        (
            date(2024, 2, 29),
            "year",
            1,
            date(2025, 2, 27),
            Run(date(2024, 2, 29), date(2025, 2, 27)),
        ),
        (date(2024, 2, 29), "year", 1, date(2025, 3, 1), Run(date(2025, 2, 28), date(2026, 2, 27))),
        (
            date(2024, 2, 29),
            "year",
            1,
            date(2028, 2, 29),
            Run(date(2028, 2, 29), date(2029, 2, 27)),
        ),
    ],
)
def test_run_boundaries(
    start: date, unit: RunUnit, interval: int, day: date, expected: Run
) -> None:
    assert board(start, unit=unit, interval=interval).run_at(day) == expected


def test_runs_end_with_the_board_and_a_perpetual_board_has_one() -> None:
    ending = board(date(2026, 3, 2), unit="day", interval=7, end=date(2026, 3, 10))
    assert ending.run_at(date(2026, 3, 10)) == Run(date(2026, 3, 9), date(2026, 3, 10))
    assert ending.run_at(date(2026, 3, 11)) is None
    assert ending.run_at(date(2026, 3, 1)) is None
    forever = board(date(2026, 3, 1), unit=None)
    assert forever.run_at(date(2030, 1, 1)) == Run(date(2026, 3, 1), None)


def test_one_instant_is_in_different_runs_in_different_zones() -> None:
    """2026-03-05 23:30 UTC is already the 6th in Tokyo, still the 5th in London and LA."""
    daily = board()
    at = datetime(2026, 3, 5, 23, 30, tzinfo=UTC)
    runs = {}
    for tz in ("Asia/Tokyo", "Europe/London", "America/Los_Angeles", "Pacific/Kiritimati"):
        _, [change] = step({}, [daily], moved(1), {}, tz, at)
        runs[tz] = change.run.start
    assert runs == {
        "Asia/Tokyo": date(2026, 3, 6),
        "Europe/London": date(2026, 3, 5),
        "America/Los_Angeles": date(2026, 3, 5),
        "Pacific/Kiritimati": date(2026, 3, 6),
    }


@pytest.mark.parametrize(
    ("tz", "last", "first"),
    [
        # New York springs forward on 2026-03-08: that day has 23 hours
        ("America/New_York", (2026, 3, 8, 23, 59, 59), (2026, 3, 9, 0, 0, 0)),
        # Sydney falls back on 2026-04-05: 25 hours
        ("Australia/Sydney", (2026, 4, 5, 23, 59, 59), (2026, 4, 6, 0, 0, 0)),
        ("Asia/Kathmandu", (2026, 3, 5, 23, 59, 59), (2026, 3, 6, 0, 0, 0)),
    ],
)
def test_a_new_run_starts_at_local_midnight_from_zero(
    tz: str, last: tuple[int, ...], first: tuple[int, ...]
) -> None:
    daily = board()
    held, _ = step({}, [daily], moved(5), {}, tz, local(tz, *last) - timedelta(hours=20))
    held, _ = step(held, [daily], moved(2), {}, tz, local(tz, *last))
    assert held[daily.id].value == 7  # both on the same local day
    held, [change] = step(held, [daily], moved(3), {}, tz, local(tz, *first))
    assert change.previous is None  # another run: nothing carried over
    assert (held[daily.id].run, held[daily.id].value) == (date(*first[:3]), 3)


def test_the_daily_window_is_in_local_time() -> None:
    tz = "America/Los_Angeles"
    nine_to_five = board(unit=None, window=(time(9), time(17)))
    held: Mapping[uuid.UUID, Entry] = {}
    for hour, minute, second in [(8, 59, 59), (9, 0, 0), (16, 59, 59), (17, 0, 0), (23, 0, 0)]:
        held, _ = step(
            held, [nine_to_five], moved(1), {}, tz, local(tz, 2026, 3, 5, hour, minute, second)
        )
    assert held[nine_to_five.id].value == 2  # 09:00:00 and 16:59:59 only

    overnight = board(unit=None, window=(time(22), time(2)))
    held = {}
    for hour in (21, 22, 23, 0, 1, 2, 3):
        held, _ = step(
            held, [overnight], moved(1), {}, tz, local(tz, 2026, 3, 5 + (hour < 12), hour, 0, 0)
        )
    assert held[overnight.id].value == 4  # 22, 23, 0 and 1 o'clock


def test_statuses_follow_the_earliest_start_and_the_final_end() -> None:
    b = board(date(2026, 3, 10), unit=None, end=date(2026, 3, 20))
    assert b.status_at(datetime(2026, 3, 9, 9, 59, tzinfo=UTC)) == "scheduled"
    assert b.status_at(datetime(2026, 3, 9, 10, 0, tzinfo=UTC)) == "active"  # 00:00 in UTC+14
    assert b.status_at(datetime(2026, 3, 21, 11, 59, tzinfo=UTC)) == "active"  # UTC-12 still on
    assert b.status_at(datetime(2026, 3, 21, 12, 0, tzinfo=UTC)) == "finished"
    run = b.run_near(date(2026, 4, 1))
    assert run == Run(date(2026, 3, 10), date(2026, 3, 20))
    assert not run.finalised(datetime(2026, 3, 21, 11, 59, tzinfo=UTC))
    assert run.finalised(datetime(2026, 3, 21, 12, 0, tzinfo=UTC))


ZONES = ["UTC", "Asia/Tokyo", "America/New_York", "Australia/Lord_Howe", "Pacific/Kiritimati"]


@settings(max_examples=200, deadline=None)
@given(
    tz=st.sampled_from(ZONES),
    unit=st.sampled_from(["day", "month", None]),
    interval=st.integers(1, 3),
    window=st.sampled_from([(None, None), (time(9), time(17)), (time(22), time(3))]),
    events=st.lists(
        st.tuples(st.integers(0, 90 * 24 * 60), st.integers(-5, 20)), min_size=1, max_size=40
    ),
)
def test_an_entry_is_the_sum_of_the_events_in_its_run_and_window(
    tz: str,
    unit: RunUnit | None,
    interval: int,
    window: tuple[time | None, time | None],
    events: list[tuple[int, int]],
) -> None:
    b = board(date(2026, 1, 10), unit=unit, interval=interval, window=window)
    times = sorted(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=m) for m, _ in events)
    values = [v for _, v in events]
    held: Mapping[uuid.UUID, Entry] = {}
    for at, value in zip(times, values, strict=True):
        held, _ = step(held, [b], moved(value), {}, tz, at)

    def counted(at: datetime) -> Run | None:
        here = at.astimezone(ZoneInfo(tz))
        return b.run_at(here.date()) if b.in_window(here.time()) else None

    last_run = None
    for at in times:
        run = counted(at)
        last_run = run or last_run
    if last_run is None:
        assert b.id not in held or held[b.id].value == 0
        return
    expected = sum(v for at, v in zip(times, values, strict=True) if counted(at) == last_run)
    assert held[b.id].run == last_run.start
    assert held[b.id].value == expected
