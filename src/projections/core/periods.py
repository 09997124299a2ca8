"""Calendar periods (days, weeks, months) in local dates, and the instants where they begin.

Weekdays are numbered as Trophy numbers ``daysOff`` (JavaScript's ``Date.getDay()``):
0 = Sunday … 6 = Saturday.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, TypeAlias

from projections.core.zones import zone

Frequency: TypeAlias = Literal["daily", "weekly", "monthly"]
FREQUENCIES: tuple[Frequency, ...] = ("daily", "weekly", "monthly")
MONDAY = 1


def weekday(day: date) -> int:
    """0 = Sunday … 6 = Saturday."""
    return day.isoweekday() % 7


def period_start(day: date, frequency: Frequency, week_start: int = MONDAY) -> date:
    """The first date of the period of ``frequency`` containing ``day``."""
    if frequency == "daily":
        return day
    if frequency == "weekly":
        return day - timedelta(days=(weekday(day) - week_start) % 7)
    return day.replace(day=1)


def next_period(start: date, frequency: Frequency) -> date:
    """The first date of the period after the one starting at ``start``."""
    if frequency == "daily":
        return start + timedelta(days=1)
    if frequency == "weekly":
        return start + timedelta(days=7)
    return date(start.year + start.month // 12, start.month % 12 + 1, 1)


def previous_period(start: date, frequency: Frequency) -> date:
    """The first date of the period before the one starting at ``start``."""
    if frequency == "daily":
        return start - timedelta(days=1)
    if frequency == "weekly":
        return start - timedelta(days=7)
    return (start - timedelta(days=1)).replace(day=1)


def period_end(start: date, frequency: Frequency) -> date:
    """The last date of the period starting at ``start``."""
    return next_period(start, frequency) - timedelta(days=1)


def start_of_day(day: date, tz: str | None) -> datetime:
    """The first instant of local date ``day`` in ``tz``, in UTC.

    Where midnight does not exist (Santiago springs forward at 24:00) this is the first instant
    that does, 01:00; where it happens twice the first is taken.
    """
    local = datetime.combine(day, time(0), tzinfo=zone(tz))
    instant = local.astimezone(UTC)
    if instant.astimezone(zone(tz)).date() < day:  # pragma: no cover - no such zone in tzdata
        instant += timedelta(hours=1)
    return instant
