"""Streak reads: a user's streak with history, streaks of several users, preferences, and the
tenant's streak settings.

Every read advances the stored state to ``now`` with the same rules the processor runs, so the
answer is right whether or not the scheduler has delivered the period ends since.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api import schemas
from api.auth import CurrentPrincipal
from api.presenters import iso
from api.requests import fail
from projections.core import streaks
from projections.core.model import UserState
from projections.core.streaks import PeriodRecord, Streak, StreakRules
from projections.core.zones import local_date
from projections.store.config import CachedConfig
from projections.store.reads import ProjectionReader
from projections.store.trophy_json import streak_response_json

MAX_HISTORY = 1000
MAX_USERS = 100


@dataclass(frozen=True)
class StreakNow:
    """A user's streak advanced to the instant of the read."""

    streak: Streak
    rules: StreakRules
    tz: str | None
    closed: tuple[PeriodRecord, ...]
    """Periods that ended since the stored state (not yet delivered by the scheduler)."""


def streak_now(state: UserState, rules: StreakRules, now: datetime) -> StreakNow:
    """The user's streak advanced to ``now`` with the rules in force."""
    tz = state.profile.tz if state.profile else None
    step = streaks.advance(state.streak, rules, tz, now)
    return StreakNow(step.streak, rules, tz, step.periods)


def build_router(
    reader: ProjectionReader, config: CachedConfig, clock: Callable[[], datetime]
) -> APIRouter:
    """A user's streak with history, and several users' streaks."""
    router = APIRouter()

    async def current(tenant: str, user_ids: list[str], now: datetime) -> dict[str, StreakNow]:
        settings = (await config.current(tenant, now)).streak_at(tenant, now)
        states = await reader.user_states(tenant, user_ids)
        return {
            user_id: streak_now(state, streaks.rules_for(settings, state.preferences.streak), now)
            for user_id, state in states.items()
        }

    @router.get(
        "/users/{id}/streak",
        tags=["streaks"],
        responses=schemas.returns(200, schemas.STREAK_RESPONSE),
    )
    async def user_streak(
        id: str,
        caller: CurrentPrincipal,
        history_periods: Annotated[int, Query(alias="historyPeriods", ge=1, le=MAX_HISTORY)] = 7,
    ) -> Any:
        """The user's streak, its last ``historyPeriods`` periods and upcoming pauses."""
        caller.require_user(id)
        now = clock()
        found = (await current(caller.tenant, [id], now)).get(id)
        if found is None:
            fail(404, f"User with id {id!r} not found")
        streak, rules = found.streak, found.rules
        since = streaks.history_start(streak, history_periods)
        stored = await reader.streak_periods(caller.tenant, id, streak.frequency, since)
        stored |= {p.start: p for p in found.closed if p.frequency == streak.frequency}
        return streak_response_json(
            streak, rules, stored, history_periods, local_date(now, found.tz)
        )

    @router.get("/streaks", tags=["streaks"], responses=schemas.returns(200, schemas.BULK_STREAKS))
    async def many_streaks(
        caller: CurrentPrincipal,
        user_ids: Annotated[list[str] | None, Query(alias="userIds")] = None,
    ) -> Any:
        """Streak lengths of up to 100 users (comma-separated or repeated ``userIds``), longest
        first; unknown users are left out."""
        ids = list(dict.fromkeys(p.strip() for v in user_ids or [] for p in v.split(",")))
        ids = [i for i in ids if i]
        if not 1 <= len(ids) <= MAX_USERS:
            fail(422, f"userIds must name 1 to {MAX_USERS} users")
        for user_id in ids:
            caller.require_user(user_id)
        found = await current(caller.tenant, ids, clock())
        views = sorted(
            ((user_id, streaks.view(s.streak, s.rules)) for user_id, s in found.items()),
            key=lambda pair: (-pair[1].length, pair[0]),
        )
        return [
            {
                "userId": user_id,
                "streakLength": view.length,
                "extended": iso(view.extended_at) if view.extended_at else None,
            }
            for user_id, view in views
        ]

    return router
