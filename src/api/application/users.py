"""Application API read routes: users, their metrics and summaries, and command outcomes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from api import schemas
from api.auth import CurrentPrincipal, Tenant
from api.presenters import (
    EventAnswer,
    iso,
    pending_json,
    rejected,
    user_json,
)
from api.requests import fail
from projections.core.model import ConfigHistory, UserProfile, UserState
from projections.core.summaries import MAX_RANGE_DAYS, Aggregation, event_summary
from projections.store.config import CachedConfig
from projections.store.reads import MetricTotal, ProjectionReader
from projections.store.trophy_json import achievement_json


def _metric_json(
    total: MetricTotal, config: ConfigHistory, tenant: str, at: datetime, user: UserState
) -> dict[str, Any]:
    """Trophy's ``MetricResponse``: the total and the metric's achievements (active ones, and
    locked ones the user earned) with the user's ``achievedAt``."""
    achievements = []
    for achievement in sorted(
        config.achievements_at(tenant, at),
        key=lambda achievement: (achievement.created, str(achievement.id)),
    ):
        done = user.achievements.get(achievement.id)
        if (
            achievement.metric_id != total.metric_id
            or achievement.trigger != "metric"
            or achievement.status == "inactive"
        ):
            continue
        if achievement.status == "locked" and done is None:
            continue
        achievements.append(
            {**achievement_json(achievement, total.name), "achievedAt": iso(done) if done else None}
        )
    return {
        "id": str(total.metric_id),
        "key": total.key,
        "name": total.name,
        "status": total.status,
        "current": total.total,
        "achievements": achievements,
    }


def parse_date(value: str, name: str) -> date:
    """A ``YYYY-MM-DD`` query parameter, or a 422 naming it."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(422, f"{name} must be a YYYY-MM-DD date, got {value!r}")


@dataclass(frozen=True)
class SummaryQuery:
    """An event summary's query: ``aggregation``, ``startDate`` and ``endDate``, checked."""

    aggregation: Aggregation
    start: date
    end: date

    def answer(self, before: float, changes: dict[date, float]) -> list[dict[str, Any]]:
        """Trophy's event summary: each bucket's total and change."""
        return [
            {"date": p.date.isoformat(), "total": p.total, "change": p.change}
            for p in event_summary(self.aggregation, self.start, self.end, before, changes)
        ]


def summary_query(
    aggregation: Aggregation,
    start_date: Annotated[str, Query(alias="startDate")],
    end_date: Annotated[str, Query(alias="endDate")],
) -> SummaryQuery:
    """The event summary's query parameters, checked (dates, order, span)."""
    start, end = parse_date(start_date, "startDate"), parse_date(end_date, "endDate")
    if end < start:
        fail(422, "endDate must not be before startDate")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        fail(422, f"the range may span at most {MAX_RANGE_DAYS} days")
    return SummaryQuery(aggregation, start, end)


Summary = Annotated[SummaryQuery, Depends(summary_query)]


def build_router(  # noqa: C901 (routes are closures, counted here)
    reader: ProjectionReader,
    config: CachedConfig,
    clock: Callable[[], datetime],
    answer: EventAnswer,
) -> APIRouter:
    """Users, their metrics and event summaries, and command outcomes."""
    router = APIRouter()

    async def existing_user(tenant: str, user_id: str) -> UserProfile:
        profile = await reader.user(tenant, user_id)
        if profile is None:
            fail(404, f"User with id {user_id!r} not found")
        return profile

    def by_key(totals: list[MetricTotal], key: str) -> MetricTotal:
        """The metric with ``key``: the active one, else an archived one (a deleted metric's
        key may have been given to a new metric since)."""
        found = sorted((t for t in totals if t.key == key), key=lambda t: not t.active)
        if not found:
            fail(404, f"Metric with key {key!r} not found")
        return found[0]

    async def metrics_json(tenant: str, user_id: str, key: str | None = None) -> Any:
        users = await reader.user_states(tenant, [user_id])
        if user_id not in users:
            fail(404, f"User with id {user_id!r} not found")
        now = clock()
        current = await config.current(tenant, now)
        totals = await reader.totals(tenant, user_id, now)
        if key is not None:
            return _metric_json(by_key(totals, key), current, tenant, now, users[user_id])
        return [_metric_json(t, current, tenant, now, users[user_id]) for t in totals]

    async def metric_of(tenant: str, user_id: str, key: str) -> MetricTotal:
        await existing_user(tenant, user_id)
        return by_key(await reader.totals(tenant, user_id, clock()), key)

    @router.get("/users/{id}", tags=["users"], responses=schemas.returns(200, schemas.USER))
    async def get_user(id: str, tenant: Tenant) -> Any:
        """A user (Trophy's ``User``)."""
        return user_json(id, await existing_user(tenant, id))

    @router.get(
        "/users/{id}/metrics",
        tags=["users"],
        responses=schemas.returns(200, {"type": "array", "items": schemas.METRIC}),
    )
    async def user_metrics(id: str, tenant: Tenant) -> Any:
        """The user's total on every metric, with the metric's achievements."""
        return await metrics_json(tenant, id)

    @router.get(
        "/users/{id}/metrics/{key}", tags=["users"], responses=schemas.returns(200, schemas.METRIC)
    )
    async def user_metric(id: str, key: str, tenant: Tenant) -> Any:
        """The user's total on one metric, with its achievements."""
        return await metrics_json(tenant, id, key)

    @router.get(
        "/users/{id}/metrics/{key}/event-summary",
        tags=["users"],
        responses=schemas.returns(200, schemas.SUMMARY),
    )
    async def user_metric_summary(id: str, key: str, tenant: Tenant, query: Summary) -> Any:
        """Totals and changes per day, week (from Monday) or month, in the user's local dates."""
        metric = await metric_of(tenant, id, key)
        before, changes = await reader.daily_changes(
            tenant, id, metric.metric_id, query.start, query.end
        )
        return query.answer(before, changes)

    @router.get(
        "/events/{event_id}",
        tags=["metrics"],
        responses={
            **schemas.returns(
                200,
                {
                    "anyOf": [
                        schemas.EVENT_RESPONSE,
                        {"type": "object", "required": ["eventId", "status"]},
                    ]
                },
            ),
            **schemas.returns(202, schemas.PENDING, "Not processed (yet)"),
        },
    )
    async def event_outcome(event_id: uuid.UUID, caller: CurrentPrincipal) -> Any:
        """The outcome of a command accepted with 202: the ``EventResponse`` once processed,
        202 while pending. Laurel's addition; Trophy has no such endpoint."""
        found = await reader.outcomes([(caller.tenant, event_id)])
        if found and caller.user_id is not None and found[0].user_id != caller.user_id:
            found = []  # another user's event: as good as unknown to an application key
        if not found:
            return JSONResponse(pending_json(str(event_id), "unknown"), status_code=202)
        outcome = found[0]
        if outcome.status == "rejected":
            return rejected(outcome)
        if outcome.body.get("kind") == "metric.event":
            return await answer(outcome)
        return {"eventId": str(event_id), "status": outcome.status, **outcome.body}

    return router
