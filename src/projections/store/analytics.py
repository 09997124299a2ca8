"""The analytics queries: the rollups the processor keeps (``projection_0008_activity``) read
back per tenant, zero-filled, over a span of local dates. Each reads O(days) rows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from projections.store.reads import ProjectionReader


@dataclass(frozen=True, slots=True)
class MetricDay:
    """One metric's day: its active users, events and the sum of their values."""

    users: int
    events: int
    total: float


@dataclass(frozen=True)
class Overview:
    """Active and new users per day, each metric's day, and active users per week and month."""

    days: dict[date, tuple[int, int]]
    metrics: dict[tuple[uuid.UUID, date], MetricDay]
    weeks: dict[date, int]
    months: dict[date, int]


@dataclass(frozen=True)
class Retention:
    """Weekly cohorts (users first active in a week) and how many were active in each later
    week; and per first day, how many were back 1, 7 and 30 days later."""

    weekly: dict[tuple[date, date], int]
    """(cohort week, week) -> users."""
    first_days: dict[date, int]
    """First day -> users first active then."""
    after: dict[tuple[date, int], int]
    """(first day, days after) -> users active then."""


def days_between(since: date, until: date) -> list[date]:
    """Every date from ``since`` to ``until``."""
    return [since + timedelta(days=n) for n in range((until - since).days + 1)]


async def overview(reader: ProjectionReader, tenant: str, since: date, until: date) -> Overview:
    """The tenant's activity from ``since`` to ``until`` (weeks and months that start in it or
    contain ``since``)."""
    days = await reader.rows(
        "SELECT day, users, new_users FROM {s}.tenant_daily WHERE tenant = %s "
        "AND day BETWEEN %s AND %s",
        (tenant, since, until),
    )
    metrics = await reader.rows(
        "SELECT metric_id, day, users, events, total FROM {s}.metric_activity "
        "WHERE tenant = %s AND day BETWEEN %s AND %s",
        (tenant, since, until),
    )
    periods = await reader.rows(
        "SELECT unit, start, users FROM {s}.tenant_periods WHERE tenant = %s "
        "AND start BETWEEN date_trunc(unit, %s::date)::date AND %s",
        (tenant, since, until),
    )
    return Overview(
        days={d: (u, n) for d, u, n in days},
        metrics={(m, d): MetricDay(u, e, float(t)) for m, d, u, e, t in metrics},
        weeks={s: u for unit, s, u in periods if unit == "week"},
        months={s: u for unit, s, u in periods if unit == "month"},
    )


async def retention(reader: ProjectionReader, tenant: str, since: date, until: date) -> Retention:
    """The cohorts first active from ``since`` to ``until``."""
    weekly = await reader.rows(
        "SELECT cohort, week, users FROM {s}.retention_weekly WHERE tenant = %s "
        "AND cohort BETWEEN date_trunc('week', %s::date)::date AND %s",
        (tenant, since, until),
    )
    firsts = await reader.rows(
        "SELECT day, new_users FROM {s}.tenant_daily WHERE tenant = %s AND day BETWEEN %s AND %s "
        "AND new_users > 0",
        (tenant, since, until),
    )
    after = await reader.rows(
        "SELECT cohort, after, users FROM {s}.retention_daily WHERE tenant = %s "
        "AND cohort BETWEEN %s AND %s",
        (tenant, since, until),
    )
    return Retention(
        weekly={(c, w): u for c, w, u in weekly},
        first_days={d: n for d, n in firsts},
        after={(c, a): u for c, a, u in after},
    )
