"""The analytics queries: the rollups the processor keeps (``projection_0008_activity``) read
back per tenant over a span of local dates (each reads O(days) rows), and the event log: the
tenant's decided commands and dead letters, newest first."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import orjson

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


@dataclass(frozen=True)
class LoggedCommand:
    """A decided command as the event log shows it."""

    command_id: uuid.UUID
    user_id: str
    type: str | None
    status: str
    received_at: datetime | None
    body: Mapping[str, Any]
    topic: str
    partition: int
    offset: int


async def event_log(
    reader: ProjectionReader,
    tenant: str,
    filters: Mapping[str, Any],
    limit: int,
) -> list[LoggedCommand]:
    """The tenant's decided commands, newest first, filtered by ``user_id``, ``type``,
    ``status``, ``metric`` (key), ``since`` and ``until`` (when received) where given."""
    where = ["tenant = %(tenant)s"]
    clauses = {
        "user_id": "user_id = %(user_id)s",
        "type": "type = %(type)s",
        "status": "status = %(status)s",
        "metric": "body->>'metricKey' = %(metric)s",
        "since": "received_at >= %(since)s",
        "until": "received_at <= %(until)s",
    }
    where += [clauses[name] for name, value in filters.items() if value is not None]
    rows = await reader.rows(
        "SELECT command_id, user_id, type, status, received_at, body, topic, partition, "
        'o."offset" FROM {s}.command_outcomes o WHERE '
        + " AND ".join(where)
        + " ORDER BY received_at DESC NULLS LAST, command_id DESC LIMIT %(limit)s",
        {**filters, "tenant": tenant, "limit": limit},
    )
    return [LoggedCommand(*row) for row in rows]


async def dead_letters(reader: ProjectionReader, tenant: str, limit: int) -> list[Any]:
    """The records set aside whose key names the tenant, newest first: (topic, partition,
    offset, reason, when, the key and value as text where they decode). A record key is the
    canonical JSON ``[tenant, userId]`` (``ingest.contract.record_key``), so the tenant's keys
    are those starting with its spelling of ``["tenant",``."""
    prefix = orjson.dumps([tenant])[:-1] + b","
    rows = await reader.rows(
        'SELECT topic, partition, "offset", reason, recorded, key, value FROM {s}.dead_letters '
        "WHERE substring(key FROM 1 FOR %s) = %s ORDER BY recorded DESC LIMIT %s",
        (len(prefix), prefix, limit),
    )
    return [
        (topic, partition, offset, reason, recorded, _text(key), _text(value))
        for topic, partition, offset, reason, recorded, key, value in rows
    ]


def _text(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return None


@dataclass(frozen=True)
class StreakActivity:
    """The tenant's streak lengths as stored (each user's as of their last command), and the
    transitions per day: extended, lost, freezes earned and consumed."""

    lengths: dict[int, int]
    days: dict[tuple[date, str], int]


STREAK_KINDS = ("streak.extended", "streak.lost", "streak.freeze_earned", "streak.freeze_consumed")


async def streak_activity(
    reader: ProjectionReader, tenant: str, since: date, until: date
) -> StreakActivity:
    """Streak lengths now, and the streak transitions from ``since`` to ``until`` (UTC days)
    from the outbox: O(transitions in the span)."""
    lengths = await reader.rows(
        "SELECT length, count(*) FROM {s}.streaks WHERE tenant = %s GROUP BY length",
        (tenant,),
    )
    days = await reader.rows(
        "SELECT (occurred AT TIME ZONE 'UTC')::date, kind, count(*) FROM {s}.outbox "
        "WHERE tenant = %s AND kind = ANY(%s) AND occurred >= %s AND occurred < %s "
        "GROUP BY 1, 2",
        (tenant, list(STREAK_KINDS), since, until + timedelta(days=1)),
    )
    return StreakActivity(
        lengths={n: users for n, users in lengths},
        days={(d, kind): n for d, kind, n in days},
    )


async def completions_per_day(
    reader: ProjectionReader, tenant: str, since: date, until: date
) -> dict[tuple[date, uuid.UUID], int]:
    """Achievement completions (not backdated) per UTC day and achievement, from ``since`` to
    ``until``: O(completions in the span)."""
    rows = await reader.rows(
        "SELECT (achieved_at AT TIME ZONE 'UTC')::date, achievement_id, count(*) "
        "FROM {s}.user_achievements WHERE tenant = %s AND NOT backdated "
        "AND achieved_at >= %s AND achieved_at < %s GROUP BY 1, 2",
        (tenant, since, until + timedelta(days=1)),
    )
    return {(d, a): n for d, a, n in rows}


async def awards_per_day(
    reader: ProjectionReader, tenant: str, since: date, until: date
) -> dict[tuple[date, uuid.UUID, str], tuple[int, int]]:
    """Points awards per UTC day, system and trigger (its id): how many, and the points given,
    from ``since`` to ``until``: O(awards in the span)."""
    rows = await reader.rows(
        "SELECT (awarded_at AT TIME ZONE 'UTC')::date, system_id, body->'trigger'->>'id', "
        "count(*), sum(awarded) FROM {s}.points_awards WHERE tenant = %s "
        "AND awarded_at >= %s AND awarded_at < %s GROUP BY 1, 2, 3",
        (tenant, since, until + timedelta(days=1)),
    )
    return {(d, s, t): (n, int(p)) for d, s, t, n, p in rows}
