from __future__ import annotations

from datetime import UTC, date, datetime

from projections.core.summaries import event_summary
from projections.core.wrapped import activity, percentile
from projections.core.zones import local_date


def test_daily_summary_carries_the_total_forward() -> None:
    points = event_summary(
        "daily",
        date(2026, 1, 1),
        date(2026, 1, 4),
        10.0,
        {date(2026, 1, 2): 2.0, date(2026, 1, 4): -1.0},
    )
    assert [(p.date.day, p.total, p.change) for p in points] == [
        (1, 10.0, 0.0),
        (2, 12.0, 2.0),
        (3, 12.0, 0.0),
        (4, 11.0, -1.0),
    ]


def test_weekly_buckets_start_on_monday_but_not_before_the_range() -> None:
    # 2026-01-01 is a Thursday; the next Monday is 2026-01-05.
    points = event_summary(
        "weekly",
        date(2026, 1, 1),
        date(2026, 1, 12),
        0.0,
        {date(2026, 1, 3): 1.0, date(2026, 1, 5): 2.0, date(2026, 1, 12): 4.0},
    )
    assert [(p.date, p.total, p.change) for p in points] == [
        (date(2026, 1, 1), 1.0, 1.0),
        (date(2026, 1, 5), 3.0, 2.0),
        (date(2026, 1, 12), 7.0, 4.0),
    ]


def test_monthly_buckets() -> None:
    points = event_summary(
        "monthly",
        date(2026, 1, 15),
        date(2026, 3, 1),
        0.0,
        {date(2026, 2, 1): 5.0, date(2026, 3, 1): 1.0},
    )
    assert [(p.date, p.total) for p in points] == [
        (date(2026, 1, 15), 0.0),
        (date(2026, 2, 1), 5.0),
        (date(2026, 3, 1), 6.0),
    ]


def test_local_dates_in_offset_zones() -> None:
    at = datetime(2026, 3, 28, 18, 30, tzinfo=UTC)
    assert local_date(at, "Asia/Kathmandu") == date(2026, 3, 29)  # +05:45
    assert local_date(at, "America/Santiago") == date(2026, 3, 28)
    assert local_date(at, None) == date(2026, 3, 28)


def test_wrapped_percentiles_count_the_users_with_nothing_and_quiet_years_are_empty() -> None:
    assert percentile(5.0, [5.0, 9.0], users=4) == 75.0  # me, the two without, not the 9
    assert percentile(-2.0, [-2.0, 3.0], users=3) == 33.3  # those with 0 did better
    assert percentile(0.0, [], users=0) == 0.0
    quiet = activity({}, 2025, 1)
    assert (quiet.days, quiet.weeks, quiet.months, quiet.day) == (0, 0, 0, None)
