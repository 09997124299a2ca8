"""Laurel's analytics (Admin API, per tenant): the overview (active, new and engaged users per
day, week and month, and each metric's day) and retention (weekly cohorts, day 1/7/30), read
from the rollups the processor keeps (days are the users' local dates; weeks start on Monday);
streaks and rewards per day; and the event log: recent commands with their outcomes, and dead
letters with their reasons. The JSON behind the dashboard's pages."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Response

from api.application.users import parse_date
from api.auth import Tenant
from api.presenters import iso
from api.requests import fail
from projections.store.analytics import (
    STREAK_KINDS,
    awards_per_day,
    completions_per_day,
    days_between,
    dead_letters,
    event_log,
    overview,
    retention,
    streak_activity,
)
from projections.store.config import CachedConfig
from projections.store.reads import ProjectionReader
from projections.store.trophy_json import whole

MAX_DAYS = 1000
MAX_LOG = 1000
JSON_OR_CSV: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "JSON, or with format=csv a CSV table",
        "content": {"application/json": {}, "text/csv": {"schema": {"type": "string"}}},
    }
}
RETENTION_AFTER = (1, 7, 30)


def _span(
    since: str | None, until: str | None, now: datetime, default_days: int
) -> tuple[date, date]:
    """``since`` and ``until`` checked: dates, in order, at most :data:`MAX_DAYS` apart."""
    last = parse_date(until, "until") if until else now.date()
    first = parse_date(since, "since") if since else last - timedelta(days=default_days - 1)
    if first > last:
        fail(422, f"since ({first}) is after until ({last})")
    if (last - first).days >= MAX_DAYS:
        fail(422, f"since and until span more than {MAX_DAYS} days")
    return first, last


Format = Annotated[Literal["json", "csv"], Query(description="json, or csv (a table)")]
_NO_METRIC = {"activeUsers": 0, "events": 0, "total": 0, "engagement": 0.0}


def _csv(header: list[str], rows: Iterable[Iterable[Any]]) -> Response:
    """``rows`` as a CSV attachment (RFC 4180, a header first)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([["" if v is None else v for v in row] for row in rows])
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8")


def _periods(found: Mapping[date, int]) -> list[dict[str, Any]]:
    return [{"start": start.isoformat(), "activeUsers": n} for start, n in sorted(found.items())]


def _share(part: int, whole_: int) -> float:
    return round(part / whole_, 4) if whole_ else 0.0


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _ratio(total: float, users: int) -> float:
    return round(total / users, 4) if users else 0.0


def build_router(  # noqa: C901 (routes are closures, counted here)
    reader: ProjectionReader, config: CachedConfig, clock: Callable[[], datetime]
) -> APIRouter:
    """The analytics endpoints."""
    router = APIRouter(tags=["analytics"])

    @router.get("/analytics/overview", responses=JSON_OR_CSV)
    async def analytics_overview(
        tenant: Tenant,
        since: Annotated[str | None, Query(description="first day (default: 30 days)")] = None,
        until: Annotated[str | None, Query(description="last day (default: today)")] = None,
        format: Format = "json",
    ) -> Any:
        """Per day: active users (who recorded a metric event), new users (active for the first
        time), engagement (the day's event values over its active users) and each metric's
        active users, events, total and engagement; active users per week and month."""
        now = clock()
        first, last = _span(since, until, now, 30)
        found = await overview(reader, tenant, first, last)
        current = await config.current(tenant, now)
        keys = {m.id: m.key for m in current.metrics if m.tenant == tenant}
        by_day: dict[date, dict[str, Any]] = {}
        totals: dict[date, float] = {}
        for (metric_id, day), figures in found.metrics.items():
            totals[day] = totals.get(day, 0.0) + figures.total
            by_day.setdefault(day, {})[keys.get(metric_id, str(metric_id))] = {
                "activeUsers": figures.users,
                "events": figures.events,
                "total": whole(figures.total),
                "engagement": _ratio(figures.total, figures.users),
            }
        days: list[dict[str, Any]] = []
        for day in days_between(first, last):
            users, new = found.days.get(day, (0, 0))
            days.append(
                {
                    "date": day.isoformat(),
                    "activeUsers": users,
                    "newUsers": new,
                    "engagement": _ratio(totals.get(day, 0.0), users),
                    "metrics": by_day.get(day, {}),
                }
            )
        if format == "csv":
            return _csv(
                [
                    "date",
                    "activeUsers",
                    "newUsers",
                    "engagement",
                    "metric",
                    "metricActiveUsers",
                    "events",
                    "total",
                    "metricEngagement",
                ],
                [
                    [
                        d["date"],
                        d["activeUsers"],
                        d["newUsers"],
                        d["engagement"],
                        key,
                        m["activeUsers"],
                        m["events"],
                        m["total"],
                        m["engagement"],
                    ]
                    for d in days
                    for key, m in (sorted(d["metrics"].items()) or [("", _NO_METRIC)])
                ],
            )
        return {
            "since": first.isoformat(),
            "until": last.isoformat(),
            "days": days,
            "weeks": [
                {"start": s.isoformat(), "activeUsers": n} for s, n in sorted(found.weeks.items())
            ],
            "months": [
                {"start": s.isoformat(), "activeUsers": n} for s, n in sorted(found.months.items())
            ],
        }

    @router.get("/analytics/retention")
    async def analytics_retention(
        tenant: Tenant,
        since: Annotated[
            str | None, Query(description="first cohort day (default: 12 weeks ago)")
        ] = None,
        until: Annotated[str | None, Query(description="last cohort day (default: today)")] = None,
    ) -> Any:
        """Weekly cohorts of users by their first active week: the cohort's size and the share
        of it active in each week since (the first is 1); and day-1, day-7 and day-30
        retention: of the users first active in the span, the share active again that many
        days later (among those for whom that day has come)."""
        now = clock()
        first, last = _span(since, until, now, 84)
        found = await retention(reader, tenant, first, last)
        today = now.date()
        cohorts = []
        week = first - timedelta(days=first.weekday())
        while week <= last:
            size = found.weekly.get((week, week), 0)
            later = []
            step = week
            while step <= today:
                later.append(_share(found.weekly.get((week, step), 0), size))
                step += timedelta(days=7)
            cohorts.append({"week": week.isoformat(), "users": size, "retained": later})
            week += timedelta(days=7)
        after = {}
        for n in RETENTION_AFTER:
            eligible = sum(u for d, u in found.first_days.items() if d + timedelta(days=n) <= today)
            back = sum(u for (d, a), u in found.after.items() if a == n)
            after[f"day{n}"] = _share(back, eligible)
        return {"since": first.isoformat(), "until": last.isoformat(), "cohorts": cohorts, **after}

    @router.get("/analytics/streaks")
    async def analytics_streaks(
        tenant: Tenant,
        since: Annotated[str | None, Query(description="first day (default: 30 days)")] = None,
        until: Annotated[str | None, Query(description="last day (default: today)")] = None,
    ) -> Any:
        """How many users have each streak length (as stored: a streak lost since a user's last
        command counts until the scheduler's tick), and per day (UTC) the streaks extended and
        lost and the freezes earned and consumed."""
        first, last = _span(since, until, clock(), 30)
        found = await streak_activity(reader, tenant, first, last)
        names = {k: k.split(".", 1)[1] for k in STREAK_KINDS}
        return {
            "since": first.isoformat(),
            "until": last.isoformat(),
            "lengths": [{"length": n, "users": u} for n, u in sorted(found.lengths.items())],
            "days": [
                {
                    "date": day.isoformat(),
                    **{_camel(names[k]): found.days.get((day, k), 0) for k in STREAK_KINDS},
                }
                for day in days_between(first, last)
            ],
        }

    @router.get("/analytics/rewards")
    async def analytics_rewards(
        tenant: Tenant,
        since: Annotated[str | None, Query(description="first day (default: 30 days)")] = None,
        until: Annotated[str | None, Query(description="last day (default: today)")] = None,
    ) -> Any:
        """Per day (UTC): each achievement's completions (backdated ones left out), and each
        points system's awards by trigger (how many, and the points)."""
        now = clock()
        first, last = _span(since, until, now, 30)
        current = await config.current(tenant, now)
        names = {a.id: a.key or str(a.id) for a in current.achievements if a.tenant == tenant}
        systems = {p.id: p.key for p in current.points_systems if p.tenant == tenant}
        kinds = {str(t.id): t.type for t in current.points_triggers if t.tenant == tenant}
        completed = await completions_per_day(reader, tenant, first, last)
        awarded = await awards_per_day(reader, tenant, first, last)
        days = []
        for day in days_between(first, last):
            achievements = {
                names.get(a, str(a)): n
                for (d, a), n in sorted(completed.items(), key=str)
                if d == day
            }
            points: dict[str, dict[str, dict[str, Any]]] = {}
            for (d, system, trigger), (count, given) in sorted(awarded.items(), key=str):
                if d == day:
                    by_trigger = points.setdefault(systems.get(system, str(system)), {})
                    by_trigger[trigger] = {
                        "type": kinds.get(trigger),
                        "awards": count,
                        "points": given,
                    }
            days.append({"date": day.isoformat(), "achievements": achievements, "points": points})
        return {"since": first.isoformat(), "until": last.isoformat(), "days": days}

    @router.get("/events", responses=JSON_OR_CSV)
    async def event_log_commands(
        tenant: Tenant,
        user_id: Annotated[str | None, Query(alias="userId")] = None,
        type: Annotated[
            str | None, Query(description="metric.event, user.upsert, user.tick…")
        ] = None,
        status: Annotated[str | None, Query(description="applied, rejected…")] = None,
        metric: Annotated[str | None, Query(description="a metric key")] = None,
        since: Annotated[datetime | None, Query(description="received at or after")] = None,
        until: Annotated[datetime | None, Query(description="received at or before")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LOG)] = 100,
        format: Format = "json",
    ) -> Any:
        """The event log: the tenant's decided commands, newest first, each with its outcome
        as stored (what ``GET /v1/events/{id}`` answers) and where it is on the topic."""
        filters = {
            "user_id": user_id,
            "type": type,
            "status": status,
            "metric": metric,
            "since": since,
            "until": until,
        }
        logged = await event_log(reader, tenant, filters, limit)
        if format == "csv":
            return _csv(
                ["eventId", "userId", "type", "status", "receivedAt", "outcome"],
                [
                    [
                        c.command_id,
                        c.user_id,
                        c.type,
                        c.status,
                        c.received_at,
                        orjson.dumps(c.body).decode(),
                    ]
                    for c in logged
                ],
            )
        return [
            {
                "eventId": str(c.command_id),
                "userId": c.user_id,
                "type": c.type,
                "status": c.status,
                "receivedAt": iso(c.received_at) if c.received_at else None,
                "outcome": c.body,
                "source": {"topic": c.topic, "partition": c.partition, "offset": c.offset},
            }
            for c in logged
        ]

    @router.get("/dead-letters")
    async def event_log_dead_letters(
        tenant: Tenant, limit: Annotated[int, Query(ge=1, le=MAX_LOG)] = 100
    ) -> Any:
        """Records the processor set aside (refused data, undecodable records) whose key names
        the tenant, newest first, with the reason."""
        return [
            {
                "topic": topic,
                "partition": partition,
                "offset": offset,
                "reason": reason,
                "recorded": iso(recorded),
                "key": key,
                "value": value,
            }
            for topic, partition, offset, reason, recorded, key, value in await dead_letters(
                reader, tenant, limit
            )
        ]

    return router
