"""The ranker's SQL: its position in the entries, the ranks it stored, the rank changes it
writes for webhooks, history ranks and the final results of runs — in its transaction and the
active projection schema."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.types.json import Jsonb

from projections.core.model import UserProfile
from projections.store.connections import execute_columns
from projections.store.ranking_cache import GroupKey, StoredEntry
from projections.store.users import USER_COLUMNS, profile_from_row

RANKS_CHANNEL = "laurel_ranks"
"""NOTIFY channel told of every round that observed something (ranks, changes, results)."""


@dataclass(frozen=True)
class Observation:
    """An entry's observed rank (``moved``: the entry itself changed)."""

    entry: StoredEntry
    rank: int | None
    moved: bool = True
    """The entry itself changed (False: only others moved around it)."""


EntryKey = tuple[str, uuid.UUID, date, str]
"""(tenant, board id, run, user id)."""
StoredRank = tuple[int | None, float, datetime]
"""A ``leaderboard_ranks`` row: rank, value and when it was written."""


def entry_key(observation: Observation) -> EntryKey:
    """(tenant, board, run, user) of an observation."""
    return (
        observation.entry.tenant,
        observation.entry.board_id,
        observation.entry.run,
        observation.entry.user_id,
    )


@dataclass(frozen=True)
class RankChange:
    """A stored ``leaderboard_rank_changes`` row."""

    id: int
    tenant: str
    board_id: uuid.UUID
    run: date
    user_id: str
    previous_rank: int | None
    rank: int | None
    previous_value: float | None
    value: float
    observed: datetime


class RankStore:
    """The ranker's SQL, in its transaction and the active projection schema."""

    def __init__(self, conn: AsyncConnection[Any], schema: str) -> None:
        self.conn = conn
        self.s = sql.Identifier(schema)

    async def _run(self, text: str, params: Any = None) -> Any:
        return await self.conn.execute(sql.SQL(text).format(s=self.s), params)

    async def announce(self) -> None:
        """Tell :data:`RANKS_CHANNEL`'s listeners that this round observed something."""
        await self.conn.execute("SELECT pg_notify(%s, '')", (RANKS_CHANNEL,))

    async def last_rank_change(self) -> int:
        """The id of the latest rank change written (0: none)."""
        cur = await self._run("SELECT coalesce(max(id), 0) FROM {s}.leaderboard_rank_changes")
        row = await cur.fetchone()
        return int(row[0])

    async def rank_changes_after(self, last: int) -> list[RankChange]:
        """The rank changes written after ``last`` that move a rank (not a first rank)."""
        cur = await self._run(
            "SELECT id, tenant, leaderboard_id, run, user_id, previous_rank, rank, "
            "previous_value, value, observed FROM {s}.leaderboard_rank_changes "
            "WHERE id > %s AND previous_rank IS NOT NULL ORDER BY id",
            (last,),
        )
        return [RankChange(*row) for row in await cur.fetchall()]

    async def profiles(self, users: list[tuple[str, str]]) -> dict[tuple[str, str], UserProfile]:
        """The profiles of some users."""
        if not users:
            return {}
        cur = await self._run(
            f"SELECT tenant, user_id, {USER_COLUMNS} FROM {{s}}.users WHERE (tenant, user_id) "
            "IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
            ([u[0] for u in users], [u[1] for u in users]),
        )
        return {(row[0], row[1]): profile_from_row(row[2:]) for row in await cur.fetchall()}

    async def user_names(self, tenant: str, user_ids: list[str]) -> dict[str, str | None]:
        """The names of some of the tenant's users."""
        cur = await self._run(
            "SELECT user_id, name FROM {s}.users WHERE tenant = %s AND user_id = ANY(%s)",
            (tenant, user_ids),
        )
        return {user_id: name for user_id, name in await cur.fetchall()}

    async def position(self) -> int:
        """The ranker's position: the transaction id below which every entry was observed."""
        row = await (await self._run("SELECT written::text FROM {s}.ranker_position")).fetchone()
        return int(row[0]) if row else 0

    async def advance(self, xmin: int) -> None:
        """Move the ranker's position to ``xmin``."""
        await self._run(
            "INSERT INTO {s}.ranker_position (written) VALUES (%b::text::xid8) "
            "ON CONFLICT (only_row) DO UPDATE SET written = EXCLUDED.written",
            (str(xmin),),
        )

    async def open_runs(self, today: date) -> list[tuple[str, uuid.UUID, date]]:
        """Runs that started by ``today`` and are not finalised."""
        cur = await self._run(
            "SELECT tenant, leaderboard_id, run FROM {s}.leaderboard_runs "
            "WHERE finalised IS NULL AND run <= %s",
            (today,),
        )
        return [(t, b, r) for t, b, r in await cur.fetchall()]

    async def groups(self, tenant: str, board_id: uuid.UUID, run: date) -> list[str]:
        """The breakdown groups of a run."""
        cur = await self._run(
            "SELECT DISTINCT grp FROM {s}.leaderboard_entries WHERE tenant = %s "
            "AND leaderboard_id = %s AND run = %s AND grp IS NOT NULL",
            (tenant, board_id, run),
        )
        return [g for (g,) in await cur.fetchall()]

    async def observe(
        self,
        observed: list[Observation],
        now: datetime,
        every: timedelta,
        before: dict[EntryKey, StoredRank | None],
    ) -> tuple[int, dict[EntryKey, tuple[GroupKey, datetime]]]:
        """Store the ranks that differ from the last stored, with a rank change for each — or,
        inside a participant's window, hold it back. How many changed, and what was held back
        (with the group and when it may be written). ``before`` is what the table holds, as
        far as known: missing entries are read, and it is kept up to date."""
        if not observed:
            return 0, {}
        observed = list(
            {entry_key(observation): observation for observation in reversed(observed)}.values()
        )  # movers win
        keys = [entry_key(observation) for observation in observed]
        unknown = [k for k in keys if k not in before]
        if unknown:
            cur = await self._run(
                "SELECT tenant, leaderboard_id, run, user_id, rank, value, observed "
                "FROM {s}.leaderboard_ranks WHERE (tenant, leaderboard_id, run, user_id) IN "
                "(SELECT * FROM unnest(%b::text[], %b::uuid[], %b::date[], %b::text[]))",
                [list(c) for c in zip(*unknown, strict=True)],
            )
            before.update(dict.fromkeys(unknown))
            for tenant, board_id, run, user_id, rank, value, at in await cur.fetchall():
                before[(tenant, board_id, run, user_id)] = (rank, value, at)
        moves = []
        waiting: dict[EntryKey, tuple[GroupKey, datetime]] = {}
        for key, observation in zip(keys, observed, strict=True):
            previous = before.get(key)
            if previous is not None and previous[0] == observation.rank:
                continue
            if previous is not None and previous[2] + every > now:
                group = GroupKey(key[0], key[1], key[2], observation.entry.group or "")
                waiting[key] = (group, previous[2] + every)
                continue
            was_rank, was_value = (previous[0], previous[1]) if previous else (None, None)
            moves.append(
                (
                    observation,
                    (*key, was_rank, observation.rank, was_value, observation.entry.value, now),
                )
            )
            before[key] = (observation.rank, observation.entry.value, now)
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
            [(*row[:4], row[5]) for observation, row in moves if observation.moved],
        )
        await self._many(
            "INSERT INTO {s}.leaderboard_runs (tenant, leaderboard_id, run) SELECT DISTINCT * "
            "FROM unnest(%b::text[], %b::uuid[], %b::date[]) ON CONFLICT DO NOTHING",
            sorted(
                {
                    key[:3]
                    for key, observation in zip(keys, observed, strict=True)
                    if observation.moved
                },
                key=str,
            ),
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
        """Store each group's top of a run that is over, and mark the run final."""
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
