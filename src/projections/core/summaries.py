"""Time series of a user's metric: the change and closing total per day, week or month."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal, TypeAlias

Aggregation: TypeAlias = Literal["daily", "weekly", "monthly"]
MAX_RANGE_DAYS = 400


@dataclass(frozen=True)
class SummaryPoint:
    """One bucket of an event summary: its first day, the total at its end and its change."""

    date: date
    """The bucket's first day (weeks start on Monday); never before the range's start."""
    total: float
    """The total at the end of the bucket's last day inside the range."""
    change: float
    """The change over the bucket's days inside the range."""


def bucket_start(day: date, aggregation: Aggregation) -> date:
    """The first day of the bucket ``day`` is in (weeks from Monday)."""
    if aggregation == "weekly":
        return day - timedelta(days=day.weekday())
    if aggregation == "monthly":
        return day.replace(day=1)
    return day


def event_summary(
    aggregation: Aggregation,
    start: date,
    end: date,
    total_before: float,
    changes: Mapping[date, float],
) -> list[SummaryPoint]:
    """Buckets covering [start, end] in order, from the total before ``start`` and the daily
    changes (days without one changed nothing)."""
    points: list[SummaryPoint] = []
    total = total_before
    day = start
    while day <= end:
        key = bucket_start(day, aggregation)
        change = changes.get(day, 0.0)
        total += change
        if points and bucket_start(points[-1].date, aggregation) == key:
            last = points[-1]
            points[-1] = SummaryPoint(last.date, total, last.change + change)
        else:
            points.append(SummaryPoint(max(key, start), total, change))
        day += timedelta(days=1)
    return points
