"""Leaderboard reads: the boards, a run's rankings (top, paged, around a user, per breakdown
group), a user's standing with daily history, and the ranks in event answers.

Values come from the processor's fold (``leaderboard_entries``); ranks from the in-memory
order-statistic rankings of :mod:`projections.store.ranking_cache`, brought up to date with
every commit before each answer, so a read never shows less than an answer already given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api import schemas
from api.application.users import parse_date
from api.auth import Tenant
from api.presenters import event_json, iso
from api.requests import fail
from projections.core.leaderboards import Leaderboard, Run
from projections.core.model import ConfigHistory
from projections.core.zones import local_date
from projections.store.config import CachedConfig
from projections.store.ranking import Ranking, Standing, group_key, group_values
from projections.store.ranking_cache import GroupKey, RankingCache
from projections.store.reads import ProjectionReader, StoredOutcome
from projections.store.trophy_json import board_json, whole

MAX_PAGE = 1000
DEFAULT_PAGE = 10
MAX_HISTORY_DAYS = 100


def _standing_json(standing: Standing, names: Mapping[str, str | None]) -> dict[str, Any]:
    return {
        "userId": standing.user_id,
        "userName": names.get(standing.user_id),
        "rank": standing.rank,
        "value": whole(standing.value),
    }


def parse_group(board: Leaderboard, raw: str | None) -> tuple[str, ...]:
    """The breakdown group named by ``userAttributes`` (``key:value`` pairs, comma-separated)."""
    if not board.breakdown:
        if raw:
            fail(
                422,
                f"userAttributes is only valid for leaderboards with breakdown attributes; "
                f"{board.key!r} has none",
            )
        return ()
    if not raw:
        keys = ", ".join(a.key for a in board.breakdown)
        fail(
            422,
            f"userAttributes is required for leaderboard {board.key!r} (broken down by "
            f"{keys}), e.g. {board.breakdown[0].key}:value",
        )
    given: dict[str, str] = {}
    for pair in raw.split(","):
        key, sep, value = pair.partition(":")
        if not sep or not key.strip():
            fail(422, f"userAttributes must be key:value pairs separated by commas, not {pair!r}")
        given[key.strip()] = value.strip()
    known = {a.key for a in board.breakdown}
    unknown = sorted(set(given) - known)
    if unknown:
        fail(
            422,
            f"userAttributes: {', '.join(unknown)} is not a breakdown attribute of {board.key!r}",
        )
    missing = [a.key for a in board.breakdown if a.key not in given]
    if missing:
        fail(422, f"userAttributes: a value for {', '.join(missing)} is required")
    return tuple(given[a.key] for a in board.breakdown)


def run_of(board: Leaderboard, raw: str | None, today: date) -> Run:
    """The run ``raw`` (any date in it) names, or the one containing ``today`` (the first
    before the start, the last after the end)."""
    if raw is None:
        return board.run_near(today)
    day = parse_date(raw, "run")
    run = board.run_at(day)
    if run is None:
        span = f"{board.start} to {board.end}" if board.end else f"{board.start} onwards"
        fail(422, f"run {raw} is outside leaderboard {board.key!r} ({span})")
    return run


@dataclass(frozen=True)
class Standings:
    """What every leaderboard read shares: configuration, stored entries and rankings."""

    reader: ProjectionReader
    config: CachedConfig
    cache: RankingCache
    clock: Callable[[], datetime]

    async def ranking(
        self, board: Leaderboard, run: date, group: tuple[str, ...], *, refresh: bool = True
    ) -> Ranking:
        """The ranking of one group of one run, brought up to date unless ``refresh`` is False."""
        key = GroupKey(board.tenant, board.id, run, group_key(group) or "")
        return await self.cache.ranking(key, board.max_participants, refresh=refresh)

    async def visible(self, tenant: str, key: str) -> tuple[Leaderboard, ConfigHistory, datetime]:
        """The board with ``key`` users can see (not inactive), or 404."""
        now = self.clock()
        config = await self.config.current(tenant, now)
        for board in config.leaderboards_at(tenant, now):
            if board.key == key and board.status != "inactive":
                return board, config, now
        fail(404, f"Leaderboard with key {key!r} not found")

    async def event_answer(self, outcome: StoredOutcome) -> dict[str, Any]:
        """Trophy's ``EventResponse`` for a stored outcome, with each changed board's ranks as
        they stand now (``previousRank``: the rank the previous value has among the others)."""
        answer = event_json(str(outcome.command_id), outcome.body)
        changes: Mapping[str, Mapping[str, Any]] = outcome.body.get("leaderboards") or {}
        if not changes:
            return answer
        tenant, user_id = outcome.tenant, outcome.user_id
        now = self.clock()
        config = await self.config.current(tenant, now)
        boards = {str(b.id): b for b in config.leaderboards_at(tenant, now)}
        await self.cache.refresh()  # once for every board the event changed
        for change in changes.values():
            board = boards.get(change["id"])
            if board is None or board.status == "inactive":
                continue
            answer["leaderboards"][board.key] = await self._event_board(
                board, config, now, change, user_id
            )
        return answer

    async def _event_board(
        self,
        board: Leaderboard,
        config: ConfigHistory,
        now: datetime,
        change: Mapping[str, Any],
        user_id: str,
    ) -> dict[str, Any]:
        body = board_json(board, config, now)
        body["start"], body["end"] = change["run"], change["runEnd"]
        rank = previous_rank = None
        threshold = 0.0
        group = change.get("group")
        if group is not None:
            run = date.fromisoformat(change["run"])
            ranking = await self.ranking(board, run, tuple(group), refresh=False)
            threshold = ranking.threshold()
            rank = ranking.rank(user_id)
            before = change.get("previousValue")
            if before is not None:
                mine = ranking.value_of(user_id)
                ahead = ranking.rank_of_value(before) - (
                    1 if mine is not None and mine > before else 0
                )
                capacity = board.max_participants
                previous_rank = ahead if capacity is None or ahead <= capacity else None
            values = [
                {"key": a.key, "value": v} for a, v in zip(board.breakdown, group, strict=False)
            ]
            if values:
                body["breakdownAttributeValues"] = values
                if len(values) == 1:
                    body["breakdownAttributeValue"] = values[0]["value"]
        body |= {"rank": rank, "previousRank": previous_rank, "threshold": whole(threshold)}
        return body


def build_router(standings: Standings) -> APIRouter:  # noqa: C901 (routes are closures, counted here)
    """The leaderboards, a run's rankings, and a user's standing with history."""
    router = APIRouter()
    reader = standings.reader

    @router.get(
        "/leaderboards", tags=["leaderboards"], responses=schemas.returns(200, {"type": "array"})
    )
    async def all_leaderboards(tenant: Tenant, includeFinished: bool = False) -> Any:  # noqa: N803
        """Every leaderboard users can see, finished ones only with ``includeFinished``."""
        now = standings.clock()
        config = await standings.config.current(tenant, now)
        out = []
        for board in sorted(config.leaderboards_at(tenant, now), key=lambda b: (b.created, b.key)):
            status = board.status_at(now)
            if status == "inactive" or (status == "finished" and not includeFinished):
                continue
            out.append({**board_json(board, config, now), "status": status})
        return out

    @router.get("/leaderboards/{key}", tags=["leaderboards"])
    async def leaderboard(
        key: str,
        tenant: Tenant,
        offset: int = 0,
        limit: Annotated[int | None, Query(ge=0, le=MAX_PAGE)] = None,
        run: str | None = None,
        userId: str | None = None,  # noqa: N803
        userAttributes: str | None = None,  # noqa: N803
    ) -> Any:
        """One run's rankings: a page from the top, or around ``userId`` (``offset`` is then
        relative to the user and may be negative), in one breakdown group."""
        board, config, now = await standings.visible(tenant, key)
        if offset < 0 and userId is None:
            fail(422, "offset must be at least 0 (it may be negative only with userId)")
        size = board.max_participants
        if limit is None:  # Trophy's default, within the board's size
            limit = min(DEFAULT_PAGE, size) if size is not None else DEFAULT_PAGE
        elif size is not None and limit > size:
            fail(
                422,
                f"limit cannot be greater than the leaderboard's size ({board.max_participants})",
            )
        group = parse_group(board, userAttributes)
        chosen = run_of(board, run, now.astimezone(UTC).date())
        ranking = await standings.ranking(board, chosen.start, group)
        page = (
            ranking.around(userId, offset, limit)
            if userId is not None
            else ranking.page(offset, limit)
        )
        names = await reader.user_names(tenant, [s.user_id for s in page]) if page else {}
        body = board_json(board, config, now)
        return {
            **body,
            "status": board.status_at(now),
            "rankings": [_standing_json(s, names) for s in page],
        }

    @router.get("/users/{id}/leaderboards/{key}", tags=["leaderboards"])
    async def user_leaderboard(
        id: str,
        key: str,
        tenant: Tenant,
        run: str | None = None,
        numEvents: Annotated[int, Query(ge=0, le=MAX_HISTORY_DAYS)] = 10,  # noqa: N803
    ) -> Any:
        """The user's rank and value in a run, and their value and rank at the end of each day
        they moved (``numEvents`` days, oldest first)."""
        board, config, now = await standings.visible(tenant, key)
        profile = await reader.user(tenant, id)
        if profile is None:
            fail(404, f"User with id {id!r} not found")
        chosen = run_of(board, run, local_date(now, profile.tz))
        entry = await reader.leaderboard_entry(tenant, board.id, chosen.start, id)
        rank: int | None = None
        if entry is not None and entry[0] is not None:
            ranking = await standings.ranking(board, chosen.start, group_values(entry[0]) or ())
            rank = ranking.rank(id)
        days = await reader.leaderboard_days(tenant, board.id, chosen.start, id, numEvents)
        # A day's rank: the last one the ranker wrote up to that day (it writes a rank only
        # when it changed); the latest day's, the rank now.
        resolved: list[int | None] = []
        for position, (_, _, written) in enumerate(days):
            carried = resolved[-1] if resolved else None
            resolved.append(
                rank if position == len(days) - 1 else written if written is not None else carried
            )
        history = []
        for position, (when, value, _) in enumerate(days):
            if position == 0 and len(days) > numEvents:
                continue  # the day before the window: only its value and rank are needed
            history.append(
                {
                    "date": when.isoformat(),
                    "timestamp": iso(datetime.combine(when, time(), UTC)),
                    "previousRank": resolved[position - 1] if position > 0 else None,
                    "rank": resolved[position],
                    "previousValue": whole(days[position - 1][1]) if position > 0 else None,
                    "value": whole(value),
                }
            )
        return {
            **board_json(board, config, now),
            "rank": rank,
            "value": whole(entry[1]) if entry is not None and rank is not None else None,
            "history": history,
        }

    return router
