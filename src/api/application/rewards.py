"""Achievement and points reads of the Application API (Trophy's shapes)."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api import schemas
from api.application.users import Summary
from api.auth import Tenant
from api.requests import fail
from projections.core.achievements import Achievement, filters_match
from projections.core.model import PointsConfig, UserState
from projections.core.points import PointsSystem, boost_status, level_for
from projections.core.zones import local_date
from projections.store.config import CachedConfig
from projections.store.reads import ProjectionReader
from projections.store.trophy_json import Names, boost_json, level_json, points_system_json

MAX_AWARDS = 100


def parse_user_attributes(raw: str | None) -> dict[str, str]:
    """``key:value,key:value`` (Trophy's ``userAttributes`` query) into a map."""
    found: dict[str, str] = {}
    for part in (raw or "").split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition(":")
        if not sep or not key.strip():
            fail(422, f"userAttributes must be key:value pairs separated by commas, got {part!r}")
        found[key.strip()] = value.strip()
    return found


def summary_ranges(totals: list[int]) -> list[dict[str, int]]:
    """Trophy's 11 ranges: 0 to 0, then ten equal ranges from 1 to the highest total rounded up
    to a power of ten, bounds inclusive."""
    highest = max(totals, default=0)
    top = 10 ** max(1, math.ceil(math.log10(highest))) if highest > 1 else 10
    width = top // 10
    ranges = [{"from": 0, "to": 0, "users": sum(1 for t in totals if t <= 0)}]
    for step in range(10):
        low, high = 1 + step * width, (step + 1) * width
        ranges.append(
            {"from": low, "to": high, "users": sum(1 for t in totals if low <= t <= high)}
        )
    return ranges


class _Config(Names):
    """The configuration in force now, and names for rendering."""

    def achievements(self) -> list[Achievement]:
        """Active and locked achievements (inactive ones are invisible), oldest first."""
        return sorted(
            (
                a
                for a in self.config.achievements_at(self.tenant, self.at)
                if a.status != "inactive"
            ),
            key=lambda a: (a.created, str(a.id)),
        )

    def points(self) -> PointsConfig:
        return self.config.points_at(self.tenant, self.at)

    def system(self, key: str) -> tuple[PointsSystem, PointsConfig]:
        pc = self.points()
        for system in pc.systems.values():
            if system.key == key:
                return system, pc
        fail(404, f"Points system with key {key!r} not found")


def build_router(  # noqa: C901 (routes are closures, counted here)
    reader: ProjectionReader, config: CachedConfig, clock: Callable[[], datetime]
) -> APIRouter:
    """Achievements and points reads: all achievements with stats, a user's achievements and points,
    the points systems, summaries, boosts and levels."""
    router = APIRouter()

    async def current(tenant: str) -> _Config:
        now = clock()
        return _Config(await config.current(tenant, now), tenant, now)

    async def user(tenant: str, user_id: str) -> UserState:
        states = await reader.user_states(tenant, [user_id])
        if user_id not in states:
            fail(404, f"User with id {user_id!r} not found")
        return states[user_id]

    def with_stats(
        cfg: _Config, achievement: Achievement, users: int, counts: Mapping[uuid.UUID, int]
    ) -> dict[str, Any]:
        done = counts.get(achievement.id, 0)
        rarity = round(100.0 * done / users, 2) if users else 0.0
        return {**cfg.achievement(achievement), "completions": done, "rarity": rarity}

    @router.get(
        "/achievements", tags=["achievements"], responses=schemas.returns(200, schemas.ACHIEVEMENTS)
    )
    async def all_achievements(
        tenant: Tenant, user_attributes: Annotated[str | None, Query(alias="userAttributes")] = None
    ) -> Any:
        """Active and locked achievements with completions and rarity (% of all users);
        ``userAttributes=k:v,…`` keeps those open to a user with these attributes."""
        wanted = parse_user_attributes(user_attributes)
        cfg = await current(tenant)
        users, counts = await reader.completions(tenant)
        return [
            with_stats(cfg, a, users, counts)
            for a in cfg.achievements()
            if user_attributes is None or filters_match(a.user_filters, wanted)
        ]

    @router.get(
        "/users/{id}/achievements",
        tags=["users"],
        responses=schemas.returns(200, schemas.ACHIEVEMENTS),
    )
    async def user_achievements(
        id: str,
        tenant: Tenant,
        include_incomplete: Annotated[bool, Query(alias="includeIncomplete")] = False,
    ) -> Any:
        """The achievements the user completed (with ``includeIncomplete``, also the active ones
        still open to them, with ``achievedAt`` null)."""
        state = await user(tenant, id)
        cfg = await current(tenant)
        users, counts = await reader.completions(tenant)
        out = []
        for achievement in cfg.achievements():
            done = state.achievements.get(achievement.id)
            if done is None and not (include_incomplete and achievement.status == "active"):
                continue
            achieved = done.isoformat().replace("+00:00", "Z") if done else None
            out.append({**with_stats(cfg, achievement, users, counts), "achievedAt": achieved})
        return out

    @router.get("/points/{key}", tags=["points"], responses=schemas.returns(200, schemas.OBJECT))
    async def points_system(key: str, tenant: Tenant) -> Any:
        """The points system and its active triggers."""
        cfg = await current(tenant)
        system, pc = cfg.system(key)
        triggers = [t for t in pc.triggers if t.system_id == system.id]
        return {
            **points_system_json(system),
            "triggers": [
                cfg.trigger(t) for t in sorted(triggers, key=lambda t: (t.created, str(t.id)))
            ],
        }

    @router.get(
        "/points/{key}/summary", tags=["points"], responses=schemas.returns(200, schemas.ARRAY)
    )
    async def points_summary(
        key: str,
        tenant: Tenant,
        user_attributes: Annotated[str | None, Query(alias="userAttributes")] = None,
    ) -> Any:
        """How many users hold points in each of 11 ranges."""
        wanted = parse_user_attributes(user_attributes)
        system, _ = (await current(tenant)).system(key)
        totals = [t for t, _ in await reader.points_totals(tenant, system.id, wanted)]
        return summary_ranges(totals)

    @router.get(
        "/points/{key}/boosts", tags=["points"], responses=schemas.returns(200, schemas.ARRAY)
    )
    async def points_boosts(
        key: str,
        tenant: Tenant,
        include_finished: Annotated[bool, Query(alias="includeFinished")] = False,
    ) -> Any:
        """The system's global boosts (not finished ones, unless ``includeFinished``)."""
        cfg = await current(tenant)
        system, pc = cfg.system(key)
        today = cfg.at.date()
        return [
            boost_json(b, today)
            for b in sorted(pc.boosts, key=lambda b: (b.start, b.created, str(b.id)))
            if b.system_id == system.id
            and b.user_id is None
            and (include_finished or boost_status(b, today) != "finished")
        ]

    @router.get(
        "/points/{key}/levels", tags=["points"], responses=schemas.returns(200, schemas.ARRAY)
    )
    async def points_levels(key: str, tenant: Tenant) -> Any:
        """The system's levels, lowest threshold first."""
        system, pc = (await current(tenant)).system(key)
        levels = sorted(
            (lv for lv in pc.levels if lv.system_id == system.id),
            key=lambda lv: (lv.points, lv.key),
        )
        return [level_json(lv) for lv in levels]

    @router.get(
        "/points/{key}/level-summary",
        tags=["points"],
        responses=schemas.returns(200, schemas.ARRAY),
    )
    async def points_level_summary(key: str, tenant: Tenant) -> Any:
        """How many users are at each level (422 when the system has no levels)."""
        system, pc = (await current(tenant)).system(key)
        levels = sorted(
            (lv for lv in pc.levels if lv.system_id == system.id),
            key=lambda lv: (lv.points, lv.key),
        )
        if not levels:
            fail(422, f"Points system {key!r} has no levels")
        counts = {lv.id: 0 for lv in levels}
        for total, _ in await reader.points_totals(tenant, system.id, {}):
            level = level_for(levels, total)
            if level is not None:
                counts[level.id] += 1
        return [{"level": level_json(lv), "users": counts[lv.id]} for lv in levels]

    @router.get(
        "/users/{id}/points/{key}", tags=["users"], responses=schemas.returns(200, schemas.OBJECT)
    )
    async def user_points(
        id: str, key: str, tenant: Tenant, awards: Annotated[int, Query(ge=1, le=MAX_AWARDS)] = 10
    ) -> Any:
        """The user's total, level and most recent awards in one system."""
        state = await user(tenant, id)
        system, pc = (await current(tenant)).system(key)
        level_id = state.points.levels.get(system.id)
        level = next((lv for lv in pc.levels if lv.id == level_id), None)
        return {
            **points_system_json(system),
            "total": state.points.totals.get(system.id, 0),
            "level": level_json(level),
            "awards": await reader.recent_awards(tenant, id, system.id, awards),
        }

    @router.get(
        "/users/{id}/points/{key}/boosts",
        tags=["users"],
        responses=schemas.returns(200, schemas.ARRAY),
    )
    async def user_boosts(id: str, key: str, tenant: Tenant) -> Any:
        """Boosts in force or scheduled for this user: global and cohort ones they qualify for,
        and their own."""
        state = await user(tenant, id)
        cfg = await current(tenant)
        system, pc = cfg.system(key)
        profile = state.profile
        assert profile is not None
        today = local_date(cfg.at, profile.tz)
        return [
            boost_json(b, today)
            for b in sorted(pc.boosts, key=lambda b: (b.start, b.created, str(b.id)))
            if b.system_id == system.id
            and boost_status(b, today) != "finished"
            and (
                b.user_id == id
                if b.user_id is not None
                else filters_match(b.user_filters, profile.attributes)
            )
        ]

    @router.get(
        "/users/{id}/points/{key}/event-summary",
        tags=["users"],
        responses=schemas.returns(200, schemas.SUMMARY),
    )
    async def user_points_summary(id: str, key: str, tenant: Tenant, query: Summary) -> Any:
        """Points totals and changes per day, week (from Monday) or month, in local dates."""
        await user(tenant, id)
        system, _ = (await current(tenant)).system(key)
        before, changes = await reader.daily_changes(
            tenant, id, system.id, query.start, query.end, points=True
        )
        return query.answer(before, changes)

    return router
