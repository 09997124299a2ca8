"""The ranker: where participants stand, observed after their entries change.

A user's value on a board is folded from their own commands; their rank depends on everyone
else, so it cannot be part of that fold. The ranker (a leader-only task of the processor, like
the scheduler) follows ``leaderboard_entries`` the way the API's rankings do — from the oldest
transaction running at its previous read, a position it commits with what it writes — and for
each changed entry stores:

* the rank now (``leaderboard_ranks``) and on the user's latest history day;
* a ``leaderboard_rank_changes`` outcome when the rank moved (ready for ``leaderboard.rank_changed``
  webhooks) — for the participant whose value changed; those they pass are not written;
* once a run is over everywhere (12 hours after its last day ends in UTC), the top 10 of each
  breakdown group as ``leaderboard_results`` (ready for ``leaderboard.finished``).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from laurel.clock import Clock
from projections.core.leaderboards import Leaderboard
from projections.store.postgres import active_schema, execute_columns, load_config
from projections.store.ranking_cache import (
    GroupKey,
    RankingCache,
    StoredEntry,
    entries_since,
    snapshot_xmin,
)

log = logging.getLogger(__name__)
TOP = 10


@dataclass(frozen=True)
class RankerReport:
    observed: int
    moved: int
    finalised: int


@dataclass(frozen=True)
class _Observation:
    entry: StoredEntry
    rank: int | None


class Ranker:
    def __init__(self, pool: AsyncConnectionPool[Any], clock: Clock) -> None:
        self.pool = pool
        self.clock = clock
        self.cache = RankingCache(pool)

    async def run_once(self) -> RankerReport:
        """Observe every entry written since the last round, and finalise the runs now over."""
        now = self.clock()
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            schema = await active_schema(conn)
            q = _Queries(conn, schema)
            since = await q.position()
            xmin = await snapshot_xmin(conn)
            changed = await entries_since(conn, schema, since)
            open_runs = await q.open_runs(now.date())
            tenants = {e.tenant for e in changed} | {r[0] for r in open_runs}
            config = await load_config(conn, tenants, now, now)
            boards = {(b.tenant, b.id): b for t in tenants for b in config.leaderboards_at(t, now)}
            observed = [
                _Observation(e, await self._rank(boards.get((e.tenant, e.board_id)), e))
                for e in changed
            ]
            moved = await q.observe(observed, now)
            finalised = 0
            for tenant, board_id, run in open_runs:
                if await self._finalise(
                    q, boards.get((tenant, board_id)), tenant, board_id, run, now
                ):
                    finalised += 1
            await q.advance(xmin)
        if observed or finalised:
            log.info(
                "ranker: %d entries observed, %d moved, %d runs final",
                len(observed),
                moved,
                finalised,
            )
        return RankerReport(len(observed), moved, finalised)

    async def _rank(self, board: Leaderboard | None, e: StoredEntry) -> int | None:
        if board is None or e.group is None:
            return None
        key = GroupKey(e.tenant, e.board_id, e.run, e.group)
        return (await self.cache.ranking(key, board.max_participants)).rank(e.user_id)

    async def _finalise(
        self,
        q: _Queries,
        board: Leaderboard | None,
        tenant: str,
        board_id: uuid.UUID,
        run_start: date,
        now: datetime,
    ) -> bool:
        run = board.run_at(run_start) if board is not None else None
        if board is not None and run is not None and not run.finalised(now):
            return False
        results = []
        if board is not None and run is not None:
            for grp in await q.groups(tenant, board_id, run_start):
                ranking = await self.cache.ranking(
                    GroupKey(tenant, board_id, run_start, grp), board.max_participants
                )
                top = [
                    {"userId": s.user_id, "rank": s.rank, "value": s.value}
                    for s in ranking.page(0, TOP)
                ]
                results.append((grp, top))
        await q.finalise(tenant, board_id, run_start, results, now)
        return board is not None and run is not None


class _Queries:
    """The ranker's SQL, in its transaction and the active projection schema."""

    def __init__(self, conn: AsyncConnection[Any], schema: str) -> None:
        self.conn = conn
        self.s = sql.Identifier(schema)

    async def _run(self, text: str, params: Any = None) -> Any:
        return await self.conn.execute(sql.SQL(text).format(s=self.s), params)

    async def position(self) -> int:
        row = await (await self._run("SELECT written::text FROM {s}.ranker_position")).fetchone()
        return int(row[0]) if row else 0

    async def advance(self, xmin: int) -> None:
        await self._run(
            "INSERT INTO {s}.ranker_position (written) VALUES (%s::text::xid8) "
            "ON CONFLICT (only_row) DO UPDATE SET written = EXCLUDED.written",
            (str(xmin),),
        )

    async def open_runs(self, today: date) -> list[tuple[str, uuid.UUID, date]]:
        cur = await self._run(
            "SELECT tenant, leaderboard_id, run FROM {s}.leaderboard_runs "
            "WHERE finalised IS NULL AND run <= %s",
            (today,),
        )
        return [(t, b, r) for t, b, r in await cur.fetchall()]

    async def groups(self, tenant: str, board_id: uuid.UUID, run: date) -> list[str]:
        cur = await self._run(
            "SELECT DISTINCT grp FROM {s}.leaderboard_entries WHERE tenant = %s "
            "AND leaderboard_id = %s AND run = %s AND grp IS NOT NULL",
            (tenant, board_id, run),
        )
        return [g for (g,) in await cur.fetchall()]

    async def observe(self, observed: list[_Observation], now: datetime) -> int:
        """Store the ranks; a rank change for each entry whose rank moved. How many moved."""
        if not observed:
            return 0
        keys = [(o.entry.tenant, o.entry.board_id, o.entry.run, o.entry.user_id) for o in observed]
        cur = await self._run(
            "SELECT tenant, leaderboard_id, run, user_id, rank, value FROM {s}.leaderboard_ranks "
            "WHERE (tenant, leaderboard_id, run, user_id) IN (SELECT * FROM "
            "unnest(%s::text[], %s::uuid[], %s::date[], %s::text[]))",
            [list(c) for c in zip(*keys, strict=True)],
        )
        before = {(t, b, r, u): (rank, v) for t, b, r, u, rank, v in await cur.fetchall()}
        moves = []
        for key, o in zip(keys, observed, strict=True):
            previous = before.get(key)
            if previous is None or previous[0] != o.rank:
                was_rank, was_value = previous if previous is not None else (None, None)
                moves.append((*key, was_rank, o.rank, was_value, o.entry.value, now))
        ranks = [(*key, o.rank, o.entry.value, now) for key, o in zip(keys, observed, strict=True)]
        await self._many(
            "INSERT INTO {s}.leaderboard_ranks AS r (tenant, leaderboard_id, run, user_id, rank, "
            "value, observed) SELECT * FROM unnest(%s::text[], %s::uuid[], %s::date[], "
            "%s::text[], %s::int[], %s::float8[], %s::timestamptz[]) ON CONFLICT "
            "(tenant, leaderboard_id, run, user_id) DO UPDATE SET rank = EXCLUDED.rank, "
            "value = EXCLUDED.value, observed = EXCLUDED.observed",
            ranks,
        )
        await self._many(
            "INSERT INTO {s}.leaderboard_rank_changes (tenant, leaderboard_id, run, user_id, "
            "previous_rank, rank, previous_value, value, observed) SELECT * FROM unnest("
            "%s::text[], %s::uuid[], %s::date[], %s::text[], %s::int[], %s::int[], "
            "%s::float8[], %s::float8[], %s::timestamptz[])",
            moves,
        )
        await self._many(
            "UPDATE {s}.leaderboard_days d SET rank = u.rank FROM unnest(%s::text[], %s::uuid[], "
            "%s::date[], %s::text[], %s::int[]) AS u(tenant, leaderboard_id, run, user_id, rank) "
            "WHERE d.tenant = u.tenant AND d.leaderboard_id = u.leaderboard_id AND d.run = u.run "
            "AND d.user_id = u.user_id AND d.day = (SELECT max(day) FROM {s}.leaderboard_days l "
            "WHERE l.tenant = u.tenant AND l.leaderboard_id = u.leaderboard_id "
            "AND l.run = u.run AND l.user_id = u.user_id)",
            [(*key, o.rank) for key, o in zip(keys, observed, strict=True)],
        )
        await self._many(
            "INSERT INTO {s}.leaderboard_runs (tenant, leaderboard_id, run) SELECT DISTINCT * "
            "FROM unnest(%s::text[], %s::uuid[], %s::date[]) ON CONFLICT DO NOTHING",
            sorted({key[:3] for key in keys}, key=str),
        )
        return len(moves)

    async def finalise(
        self,
        tenant: str,
        board_id: uuid.UUID,
        run: date,
        results: list[tuple[str, list[dict[str, Any]]]],
        now: datetime,
    ) -> None:
        for grp, top in results:
            await self._run(
                "INSERT INTO {s}.leaderboard_results (tenant, leaderboard_id, run, grp, top, "
                "finalised) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (tenant, board_id, run, grp, Jsonb(top), now),
            )
        await self._run(
            "UPDATE {s}.leaderboard_runs SET finalised = %s WHERE tenant = %s "
            "AND leaderboard_id = %s AND run = %s",
            (now, tenant, board_id, run),
        )

    async def _many(self, statement: str, rows: list[tuple[Any, ...]]) -> None:
        await execute_columns(self.conn, sql.SQL(statement).format(s=self.s), rows)
