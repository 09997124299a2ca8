"""``GET /users/{id}/wrapped``: a user's year in review (Trophy's ``WrappedResponse``), from
the projection's daily tables (:mod:`projections.core.wrapped` says what each figure means)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Annotated, Any, cast

from fastapi import APIRouter, Query

from api.auth import CurrentPrincipal
from api.presenters import iso
from api.requests import fail
from projections.core.leaderboards import Leaderboard
from projections.core.model import ConfigHistory
from projections.core.periods import Frequency, period_end, previous_period
from projections.core.streaks import Streak
from projections.core.wrapped import Period, activity, percentile, stats, year_period
from projections.core.zones import local_date
from projections.store.config import CachedConfig
from projections.store.reads import ProjectionReader, UserYear
from projections.store.trophy_json import Names, board_json, user_json, whole


def build_router(
    reader: ProjectionReader, config: CachedConfig, clock: Callable[[], datetime]
) -> APIRouter:
    """A user's year in review."""
    router = APIRouter()

    @router.get("/users/{id}/wrapped", tags=["users"])
    async def wrapped(
        id: str,
        caller: CurrentPrincipal,
        year: Annotated[int | None, Query(ge=1, description="default: the current year")] = None,
    ) -> Any:
        """The user's year: how many days, weeks and months they were active, their most
        active day, week and month, and the whole year, each with the metrics' and points'
        totals, changes and percentiles among the tenant's users, the achievements completed
        and the best rank on each leaderboard."""
        caller.require_user(id)
        tenant, now = caller.tenant, clock()
        if year is not None and year > now.year:
            fail(422, f"year must be from 1 to {now.year}, not {year}")
        state = (await reader.user_states(tenant, [id])).get(id)
        if state is None or state.profile is None:
            fail(404, f"User with id {id!r} not found")
        profile = state.profile
        span = year_period(year or now.year)
        history = await reader.user_year(tenant, id, span)
        by_value = await reader.attribute_year(tenant, id, span.end)
        current = await config.current(tenant, now)
        block = _Blocks(reader, tenant, history, by_value, current, now, profile.tz)
        daily: dict[Any, float] = {}
        for days in history.metrics.values():
            for when, change in days.items():
                daily[when] = daily.get(when, 0.0) + change
        week_start = current.streak_at(tenant, now).week_start
        found = activity(daily, span.start.year, week_start)
        empty = Period(span.end, span.start)  # no day at all (a year without activity)
        day, week, month = found.day or empty, found.week or empty, found.month or empty
        return {
            "user": user_json(id, profile),
            "activity": {
                "daysActive": found.days,
                "weeksActive": found.weeks,
                "monthsActive": found.months,
                "mostActiveDay": {"date": day.start.isoformat(), **await block(day)},
                "mostActiveWeek": {
                    "start": week.start.isoformat(),
                    "end": week.end.isoformat(),
                    **await block(week),
                },
                "mostActiveMonth": {"month": month.start.month - 1, **await block(month)},
                "entireYear": {
                    "longestStreak": _longest(history, span, state.streak),
                    **await block(span),
                },
            },
        }

    return router


class _Blocks:
    """Renders Trophy's ``WrappedActivityPeriod`` of any period of one user's year."""

    def __init__(
        self,
        reader: ProjectionReader,
        tenant: str,
        history: UserYear,
        by_value: Mapping[tuple[uuid.UUID, str, str], Mapping[date, float]],
        config: ConfigHistory,
        now: datetime,
        tz: str | None,
    ) -> None:
        self.reader = reader
        self.tenant = tenant
        self.history = history
        self.by_value = by_value
        """The user's daily changes per (metric, event attribute, value)."""
        self.config = config
        self.now = now
        self.tz = tz
        self.users = 0

    async def __call__(self, period: Period) -> dict[str, Any]:
        if not self.users:
            self.users = await self.reader.user_count(self.tenant)
        tenant, config, now = self.tenant, self.config, self.now
        metrics = [m for m in config.metrics if m.tenant == tenant and m.holds_at(now)]
        systems = list(config.points_at(tenant, now).systems.values())
        names = Names(config, tenant, now)
        attributes = await self._by_attribute(period)
        return {
            "metrics": {
                m.key: {
                    "name": m.name,
                    "units": m.units,
                    **figures,
                    "byAttribute": attributes.get(m.id, {}),
                }
                for m, figures in zip(
                    metrics,
                    await self._figures("metric", [m.id for m in metrics], period),
                    strict=True,
                )
            },
            "points": {
                s.key: {"name": s.name, "description": s.description, **figures}
                for s, figures in zip(
                    systems,
                    await self._figures("points", [s.id for s in systems], period),
                    strict=True,
                )
            },
            "achievements": [
                {**names.achievement(achievement), "achievedAt": iso(at)}
                for achievement_id, at in self.history.achievements
                if period.holds(local_date(at, self.tz))
                and (achievement := names.achievement_by_id(achievement_id)) is not None
            ],
            "leaderboards": self._best_ranks(period),
        }

    async def _figures(
        self, kind: str, ids: list[uuid.UUID], period: Period
    ) -> list[dict[str, Any]]:
        mine = self.history.metrics if kind == "metric" else self.history.points
        others = await self.reader.changes_in(self.tenant, kind, ids, period) if ids else {}
        return [self._json(mine.get(key, {}), others[key], period) for key in ids]

    def _json(
        self, daily: Mapping[date, float], others: list[float], period: Period
    ) -> dict[str, Any]:
        """Trophy's figures of one metric (or system, or attribute value) over ``period``."""
        figures = stats(daily, period)
        return {
            "currentTotal": whole(figures.current_total),
            "changeThisPeriod": whole(figures.change),
            "percentChange": round(figures.percent_change, 1),
            "percentileThisPeriod": percentile(figures.change, others, self.users),
        }

    async def _by_attribute(self, period: Period) -> dict[uuid.UUID, dict[str, Any]]:
        """Trophy's ``byAttribute`` of each metric: per event attribute and value the user
        recorded, the same figures as the metric's."""
        cells = sorted(self.by_value)
        others = await self.reader.attribute_changes_in(self.tenant, cells, period)
        out: dict[uuid.UUID, dict[str, Any]] = {}
        for cell in cells:
            metric_id, attribute, value = cell
            figures = self._json(self.by_value[cell], others[cell], period)
            out.setdefault(metric_id, {}).setdefault(attribute, {})[value] = figures
        return out

    def _best_ranks(self, period: Period) -> Mapping[str, Any]:
        boards: dict[uuid.UUID, Leaderboard] = {
            b.id: b for b in self.config.leaderboards_at(self.tenant, self.now)
        }
        best: dict[uuid.UUID, tuple[int, float]] = {}
        for board_id, day, value, rank in self.history.board_days:
            if (
                board_id in boards
                and period.holds(day)
                and (board_id not in best or rank < best[board_id][0])
            ):
                best[board_id] = (rank, value)
        return {
            boards[b].key: {
                **board_json(boards[b], self.config, self.now),
                "rank": rank,
                "value": whole(value),
            }
            for b, (rank, value) in best.items()
        }


def _longest(history: UserYear, year: Period, streak: Streak | None) -> dict[str, Any]:
    """Trophy's ``WrappedStreak``: the longest streak reached in the year (the period it
    reached its length in, and the period it started in); ``streak``: the stored state, whose
    open period is not among the closed ones."""
    periods: list[tuple[Frequency, date, date, int]] = [
        (cast(Frequency, f), start, end, n)
        for f, start, end, n in history.streak_periods
        if year.holds(start) and n > 0
    ]
    if streak is not None and streak.period is not None and year.holds(streak.period):
        end = period_end(streak.period, streak.frequency)
        periods.append((streak.frequency, streak.period, end, streak.length))
    periods = [p for p in periods if p[3] > 0]
    if not periods:
        return {
            "length": 0,
            "frequency": "daily",
            "periodStart": None,
            "periodEnd": None,
            "started": None,
        }
    frequency, start, end, length = max(periods, key=lambda p: (p[3], -p[1].toordinal()))
    started = start
    for _ in range(length - 1):
        started = previous_period(started, frequency)
    return {
        "length": length,
        "frequency": frequency,
        "periodStart": start.isoformat(),
        "periodEnd": end.isoformat(),
        "started": started.isoformat(),
    }
