"""The ranker: where participants stand, observed after their entries change.

A user's value on a board is folded from their own commands; their rank depends on everyone
else, so it cannot be part of that fold. The ranker (a leader-only task of the processor, like
the scheduler) follows ``leaderboard_entries`` the way the API's rankings do — from the oldest
transaction running at its previous read, a position it commits with what it writes — and
observes the rank of every changed entry and of the participants in the first ``WATCHED``
places of its group (those a mover may have passed, or pushed off a full board). When an
observed rank differs from the last one stored, it writes:

* the rank (``leaderboard_ranks``) and, for a participant whose own value changed, the rank on
  their latest history day;
* a ``leaderboard_rank_changes`` outcome, ready for ``leaderboard.rank_changed`` webhooks.

Like Trophy's webhook, a participant's rank change is written at most once per
``rank_change_every`` (15 minutes) per board: a change inside that window waits, in memory, and
is written with the rank as it stands when the window ends (a restart forgets what waited; the
participant's next change brings it back). The first rank of an entry is written at once.

Once a run is over everywhere (12 hours after its last day ends in UTC) the ranker stores the
top 10 of each breakdown group in ``leaderboard_results``, ready for ``leaderboard.finished``.
"""

from __future__ import annotations

import heapq
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
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
RANKS_CHANNEL = "laurel_ranks"
"""NOTIFY channel told of every round that observed something (ranks, changes, results)."""
TOP = 10
_NEVER = datetime(1970, 1, 1, tzinfo=UTC)  # entries re-observed only for their rank
WATCHED = 1000
"""The places (from the top) where participants passed by a mover get a rank change too."""


@dataclass(frozen=True)
class RankerReport:
    observed: int
    moved: int
    finalised: int


@dataclass(frozen=True)
class _Observation:
    entry: StoredEntry
    rank: int | None
    moved: bool = True
    """The entry itself changed (False: only others moved around it)."""


_EntryKey = tuple[str, uuid.UUID, date, str]
"""(tenant, board id, run, user id)."""
_Stored = tuple[int | None, float, datetime]
"""A ``leaderboard_ranks`` row: rank, value and when it was written."""
MAX_REMEMBERED = 2_000_000


class Ranker:
    def __init__(
        self,
        pool: AsyncConnectionPool[Any],
        clock: Clock,
        rank_change_every: timedelta = timedelta(minutes=15),
    ) -> None:
        self.pool = pool
        self.clock = clock
        self.every = rank_change_every
        self.cache = RankingCache(pool)
        self._waiting: dict[_EntryKey, tuple[GroupKey, datetime]] = {}
        """Rank changes held back by the window: the entry's group and when it may be written."""
        self._queue: list[tuple[datetime, _EntryKey]] = []
        """The same, as a heap by when they may be written."""
        self._stored: dict[_EntryKey, _Stored | None] = {}
        """What ``leaderboard_ranks`` holds, for the entries looked up so far (``None``: no
        row), so that a round reads only the entries it has not met before."""
        self._schema: str | None = None

    async def run_once(self) -> RankerReport:
        """Observe every entry written since the last round, and finalise the runs now over."""
        now = self.clock()
        async with self.pool.connection() as conn:
            async with conn.transaction():  # what changed, in one snapshot
                await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                schema = await active_schema(conn)
                if schema != self._schema or len(self._stored) > MAX_REMEMBERED:
                    self._stored.clear()  # a replay switched schemas (or memory is full)
                    self._waiting.clear()
                    self._queue.clear()
                    self._schema = schema
                q = _Queries(conn, schema)
                since = await q.position()
                xmin = await snapshot_xmin(conn)
                changed = await entries_since(conn, schema, since)
                open_runs = await q.open_runs(now.date())
                tenants = {e.tenant for e in changed} | {r[0] for r in open_runs}
                tenants |= {key[0] for key in self._waiting}
                config = await load_config(conn, tenants, now, now)
            boards = {(b.tenant, b.id): b for t in tenants for b in config.leaderboards_at(t, now)}
            await self.cache.refresh()  # as new as that snapshot, or newer
            observed = [
                _Observation(e, await self._rank(boards.get((e.tenant, e.board_id)), e))
                for e in changed
            ]
            observed += await self._passed(boards, changed)
            observed += await self._due(boards, now)
            # Written in READ COMMITTED: the processor may update the same history rows
            # meanwhile, and a REPEATABLE READ write would fail on them round after round.
            try:
                async with conn.transaction():
                    moved, waiting = await q.observe(observed, now, self.every, self._stored)
                    finalised = 0
                    for tenant, board_id, run in open_runs:
                        board = boards.get((tenant, board_id))
                        if await self._finalise(q, board, tenant, board_id, run, now):
                            finalised += 1
                    await q.advance(xmin)
                    if changed or moved or finalised:
                        await conn.execute("SELECT pg_notify(%s, '')", (RANKS_CHANNEL,))
            except BaseException:
                self._stored.clear()  # it may hold writes that were rolled back
                raise
            for key, (group, allowed) in waiting.items():
                if key not in self._waiting:
                    self._waiting[key] = (group, allowed)
                    heapq.heappush(self._queue, (allowed, key))
        if moved or finalised:
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
        ranking = await self.cache.ranking(key, board.max_participants, refresh=False)
        return ranking.rank(e.user_id)

    async def _passed(
        self, boards: dict[tuple[str, uuid.UUID], Leaderboard], changed: list[StoredEntry]
    ) -> list[_Observation]:
        """The participants in the first ``WATCHED`` places of each changed group (and as many
        again as entries changed there, for those pushed off a full board): the ones a mover
        may have passed. Their ranks are stored only where they differ."""
        movers: dict[GroupKey, set[str]] = {}
        for e in changed:
            if e.group is not None and (e.tenant, e.board_id) in boards:
                key = GroupKey(e.tenant, e.board_id, e.run, e.group)
                movers.setdefault(key, set()).add(e.user_id)
        out = []
        for key, users in movers.items():
            board = boards[(key.tenant, key.board_id)]
            ranking = await self.cache.ranking(key, board.max_participants, refresh=False)
            watched = min(board.max_participants or WATCHED, WATCHED) + len(users)
            for user_id, value, rank in ranking.places(0, watched):
                if user_id not in users:
                    entry = StoredEntry(
                        key.tenant, key.board_id, key.run, user_id, key.group, value, _NEVER
                    )
                    out.append(_Observation(entry, rank, moved=False))
        return out

    async def _due(
        self, boards: dict[tuple[str, uuid.UUID], Leaderboard], now: datetime
    ) -> list[_Observation]:
        """The held-back rank changes whose window has ended, observed again now."""
        out = []
        while self._queue and self._queue[0][0] <= now:
            _, key = heapq.heappop(self._queue)
            group, _ = self._waiting.pop(key)
            board = boards.get((group.tenant, group.board_id))
            if board is None:
                continue
            ranking = await self.cache.ranking(group, board.max_participants, refresh=False)
            value = ranking.value_of(key[3])
            if value is not None:  # (otherwise the entry moved group: it is a mover again)
                entry = StoredEntry(*key, group.group, value, _NEVER)
                out.append(_Observation(entry, ranking.rank(key[3]), moved=False))
        return out

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
                    GroupKey(tenant, board_id, run_start, grp),
                    board.max_participants,
                    refresh=False,
                )
                top = [
                    {"userId": s.user_id, "rank": s.rank, "value": s.value}
                    for s in ranking.page(0, TOP)
                ]
                results.append((grp, top))
        await q.finalise(tenant, board_id, run_start, results, now)
        return board is not None and run is not None


def _key(o: _Observation) -> _EntryKey:
    return (o.entry.tenant, o.entry.board_id, o.entry.run, o.entry.user_id)


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
            "INSERT INTO {s}.ranker_position (written) VALUES (%b::text::xid8) "
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

    async def observe(
        self,
        observed: list[_Observation],
        now: datetime,
        every: timedelta,
        before: dict[_EntryKey, _Stored | None],
    ) -> tuple[int, dict[_EntryKey, tuple[GroupKey, datetime]]]:
        """Store the ranks that differ from the last stored, with a rank change for each — or,
        inside a participant's window, hold it back. How many changed, and what was held back
        (with the group and when it may be written). ``before`` is what the table holds, as
        far as known: missing entries are read, and it is kept up to date."""
        if not observed:
            return 0, {}
        observed = list({_key(o): o for o in reversed(observed)}.values())  # movers win
        keys = [_key(o) for o in observed]
        unknown = [k for k in keys if k not in before]
        if unknown:
            cur = await self._run(
                "SELECT tenant, leaderboard_id, run, user_id, rank, value, observed "
                "FROM {s}.leaderboard_ranks WHERE (tenant, leaderboard_id, run, user_id) IN "
                "(SELECT * FROM unnest(%b::text[], %b::uuid[], %b::date[], %b::text[]))",
                [list(c) for c in zip(*unknown, strict=True)],
            )
            before.update(dict.fromkeys(unknown))
            for t, b, r, u, rank, v, at in await cur.fetchall():
                before[(t, b, r, u)] = (rank, v, at)
        moves = []
        waiting: dict[_EntryKey, tuple[GroupKey, datetime]] = {}
        for key, o in zip(keys, observed, strict=True):
            previous = before.get(key)
            if previous is not None and previous[0] == o.rank:
                continue
            if previous is not None and previous[2] + every > now:
                group = GroupKey(key[0], key[1], key[2], o.entry.group or "")
                waiting[key] = (group, previous[2] + every)
                continue
            was_rank, was_value = (previous[0], previous[1]) if previous else (None, None)
            moves.append((o, (*key, was_rank, o.rank, was_value, o.entry.value, now)))
            before[key] = (o.rank, o.entry.value, now)
        await self._many(
            "INSERT INTO {s}.leaderboard_ranks AS r (tenant, leaderboard_id, run, user_id, rank, "
            "value, observed) SELECT * FROM unnest(%b::text[], %b::uuid[], %b::date[], "
            "%b::text[], %b::int[], %b::float8[], %b::timestamptz[]) ON CONFLICT "
            "(tenant, leaderboard_id, run, user_id) DO UPDATE SET rank = EXCLUDED.rank, "
            "value = EXCLUDED.value, observed = EXCLUDED.observed",
            [(*row[:4], row[5], row[7], now) for _, row in moves],
        )
        await self._many(
            "INSERT INTO {s}.leaderboard_rank_changes (tenant, leaderboard_id, run, user_id, "
            "previous_rank, rank, previous_value, value, observed) SELECT * FROM unnest("
            "%b::text[], %b::uuid[], %b::date[], %b::text[], %b::int[], %b::int[], "
            "%b::float8[], %b::float8[], %b::timestamptz[])",
            [row for _, row in moves],
        )
        # The mover's latest history day. SKIP LOCKED: the ranker never waits for a row the
        # processor is writing (so the two cannot deadlock); a day skipped keeps the rank
        # written before it, as a history read carries ranks forward.
        await self._many(
            "WITH u AS (SELECT * FROM unnest(%b::text[], %b::uuid[], %b::date[], %b::text[], "
            "%b::int[]) AS u(tenant, leaderboard_id, run, user_id, rank)), latest AS ("
            "SELECT l.ctid AS row, u.rank FROM u CROSS JOIN LATERAL (SELECT ctid FROM "
            "{s}.leaderboard_days l WHERE l.tenant = u.tenant AND l.leaderboard_id = "
            "u.leaderboard_id AND l.run = u.run AND l.user_id = u.user_id AND l.day = ("
            "SELECT max(day) FROM {s}.leaderboard_days m WHERE m.tenant = u.tenant AND "
            "m.leaderboard_id = u.leaderboard_id AND m.run = u.run AND m.user_id = u.user_id) "
            "FOR UPDATE SKIP LOCKED) l) "
            "UPDATE {s}.leaderboard_days d SET rank = latest.rank FROM latest "
            "WHERE d.ctid = latest.row",
            [(*row[:4], row[5]) for o, row in moves if o.moved],
        )
        await self._many(
            "INSERT INTO {s}.leaderboard_runs (tenant, leaderboard_id, run) SELECT DISTINCT * "
            "FROM unnest(%b::text[], %b::uuid[], %b::date[]) ON CONFLICT DO NOTHING",
            sorted({key[:3] for key, o in zip(keys, observed, strict=True) if o.moved}, key=str),
        )
        return len(moves), waiting

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
