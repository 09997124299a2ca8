"""A user's year in review (Trophy's ``WrappedResponse``): pure arithmetic over the user's local
daily changes, and where the user stands among the tenant's users.

Laurel's choices where Trophy is silent:

- A day, week or month is *active* when the user recorded a metric event in it (a daily row).
- The *most active* day, week and month are those with the largest sum of the user's metric
  changes (every metric counted alike); the earliest wins a tie. Weeks start on the streak
  settings' first weekday and count toward the year they start in; months are 0 to 11.
- ``percentChange`` is the change in the period over the total before it, in percent (0 when
  nothing was recorded before: no growth rate from zero).
- ``percentileThisPeriod`` is the share of the tenant's users (the user included) whose change
  in the period is at most the user's, in percent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from projections.core.periods import period_start


@dataclass(frozen=True, slots=True)
class Period:
    """Local dates ``[start, end]``."""

    start: date
    end: date

    def holds(self, day: date) -> bool:
        """Whether ``day`` is in the period."""
        return self.start <= day <= self.end


@dataclass(frozen=True, slots=True)
class Stats:
    """One metric's (or points system's) figures over a period."""

    current_total: float
    change: float
    percent_change: float


@dataclass(frozen=True, slots=True)
class Activity:
    """How active the user was in the year, and the most active day, week and month (``None``:
    no activity at all)."""

    days: int
    weeks: int
    months: int
    day: Period | None
    week: Period | None
    month: Period | None


def year_period(year: int) -> Period:
    """The calendar year as a period."""
    return Period(date(year, 1, 1), date(year, 12, 31))


def month_period(day: date) -> Period:
    """The calendar month of ``day``."""
    following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return Period(day.replace(day=1), following - timedelta(days=1))


def activity(daily: Mapping[date, float], year: int, week_start: int) -> Activity:
    """The activity of a year from the user's summed changes by local day (days without a row
    were inactive)."""
    days = sorted(d for d in daily if d.year == year)
    weeks: dict[date, float] = {}
    months: dict[date, float] = {}
    for day in days:
        week = period_start(day, "weekly", week_start)
        weeks[week] = weeks.get(week, 0.0) + daily[day]
        month = day.replace(day=1)
        months[month] = months.get(month, 0.0) + daily[day]
    best_day = _most({d: daily[d] for d in days})
    best_week = _most(weeks)
    best_month = _most(months)
    return Activity(
        days=len(days),
        weeks=len(weeks),
        months=len(months),
        day=Period(best_day, best_day) if best_day else None,
        week=Period(best_week, best_week + timedelta(days=6)) if best_week else None,
        month=month_period(best_month) if best_month else None,
    )


def _most(sums: Mapping[date, float]) -> date | None:
    """The key with the largest sum, the earliest of equals."""
    return min(sums, key=lambda d: (-sums[d], d), default=None)


def stats(daily: Mapping[date, float], period: Period) -> Stats:
    """A metric's figures over ``period`` from its daily changes: the total at the period's
    end, the change within it and that change relative to the total before it."""
    before = sum(v for d, v in daily.items() if d < period.start)
    change = sum(v for d, v in daily.items() if period.holds(d))
    percent = change / before * 100 if before else 0.0
    return Stats(before + change, change, percent)


def percentile(mine: float, changes: Iterable[float], users: int) -> float:
    """The share (percent) of ``users`` whose change is at most ``mine``; ``changes`` are the
    non-zero changes of those who had one (the others changed by 0)."""
    if users <= 0:
        return 0.0
    listed = list(changes)
    at_most = sum(1 for c in listed if c <= mine) + (users - len(listed) if mine >= 0 else 0)
    return round(at_most / users * 100, 1)
