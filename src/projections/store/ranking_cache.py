"""Rankings held in memory that follow ``leaderboard_entries`` exactly.

A group (tenant, board, run, breakdown group) is loaded the first time it is read and then kept
current by reading, before every answer, the entries written since the previous read. "Since"
must not miss a transaction that committed late with an old id, so every entry carries the id
of the transaction that wrote it (``written``, an ``xid8``) and each read, in one snapshot (a
single statement, or a REPEATABLE READ transaction when a group is loaded), takes the entries
written by transactions from the previous snapshot's ``xmin`` — the oldest transaction still
running at the previous read — onwards. Anything that committed after the previous snapshot
has an id at least that, so it is seen; a row seen twice is applied twice, which is harmless
because an entry is the user's latest state, not a delta.

A replay's switch to another projection schema empties the cache.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from datetime import UTC, date, datetime
from typing import Any

from psycopg import AsyncConnection, AsyncCursor, errors
from psycopg_pool import AsyncConnectionPool

from projections.store.connections import (
    active_schema_and_xmin,
    pipelined_transaction,
    statement,
)
from projections.store.ranking import Ranking

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FOLLOW = (
    "SELECT p.schema_name, pg_snapshot_xmin(pg_current_snapshot())::text, e.tenant, "
    "e.leaderboard_id, e.run, e.user_id, e.grp, e.value, e.reached_at "
    "FROM laurel.active_projection p LEFT JOIN {s}.leaderboard_entries e "
    "ON e.written >= %s::text::xid8"
)
"""The pointer, the statement's snapshot ``xmin`` and the entries written from a watermark
on (in schema ``{s}``, which the pointer may have left), as of one snapshot."""
_GROUP = (
    "SELECT user_id, value, reached_at FROM {s}.leaderboard_entries "
    "WHERE tenant = %s AND leaderboard_id = %s AND run = %s AND grp = %s"
)


def micros(at: datetime) -> int:
    """Microseconds since the epoch: the tie-break key of an entry."""
    delta = at - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@dataclass(frozen=True)
class GroupKey:
    """One ranking: a board's run and breakdown group."""

    tenant: str
    board_id: uuid.UUID
    run: date
    group: str
    """The stored breakdown group (``""`` without breakdowns)."""


@dataclass(frozen=True)
class StoredEntry:
    """A ``leaderboard_entries`` row."""

    tenant: str
    board_id: uuid.UUID
    run: date
    user_id: str
    group: str | None
    value: float
    reached_at: datetime


async def read_only_snapshot(conn: AsyncConnection[Any]) -> None:
    """Make the transaction just begun on ``conn`` one read-only snapshot."""
    await conn.execute(b"SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")


async def entries_since(conn: AsyncConnection[Any], schema: str, since: int) -> list[StoredEntry]:
    """Entries written by transactions from id ``since`` on, as the current snapshot sees them."""
    return await read_entries(await send_entries_since(conn, schema, since))


async def send_entries_since(
    conn: AsyncConnection[Any], schema: str, since: int
) -> AsyncCursor[Any]:
    """:func:`entries_since`'s query, sent (in pipeline mode, with what follows it) but not
    read: :func:`read_entries` reads it."""
    return await conn.execute(
        statement(
            "SELECT tenant, leaderboard_id, run, user_id, grp, value, reached_at "
            "FROM {s}.leaderboard_entries WHERE written >= %s::text::xid8",
            schema,
        ),
        (str(since),),
    )


async def read_entries(cursor: AsyncCursor[Any]) -> list[StoredEntry]:
    """The entries :func:`send_entries_since` asked for."""
    return [StoredEntry(*row) for row in await cursor.fetchall()]


class RankingCache:
    """Loads groups on demand and follows the entries table before every read. It keeps the
    most recently read groups, at most ``max_groups`` of them and, beyond the group just read,
    at most ``max_entries`` entries (about 0.5 GB a million)."""

    def __init__(
        self,
        pool: AsyncConnectionPool[Any],
        max_groups: int = 256,
        max_entries: int = 5_000_000,
    ) -> None:
        self.pool = pool
        self.max_groups = max_groups
        self.max_entries = max_entries
        self._groups: OrderedDict[GroupKey, Ranking] = OrderedDict()
        self._by_run: dict[tuple[str, uuid.UUID, date], dict[str, Ranking]] = {}
        self._schema: str | None = None
        self._watermark: int | None = None
        self._lock = asyncio.Lock()
        self._requested = 0
        self._done = 0

    async def ranking(
        self, key: GroupKey, capacity: int | None, *, refresh: bool = True
    ) -> Ranking:
        """The group's ranking, current as of this call (it sees every commit before it); with
        ``refresh`` False, as of the last refresh (loaded if it was not held)."""
        if refresh or key not in self._groups:
            await self._sync(key)
        ranking = self._groups[key]
        ranking.capacity = capacity
        self._groups.move_to_end(key)
        return ranking

    async def refresh(self) -> None:
        """Apply every entry committed before this call to the groups held."""
        await self._sync(None)

    async def _sync(self, want: GroupKey | None) -> None:
        self._requested += 1
        ticket = self._requested
        async with self._lock:
            if self._done >= ticket and (want is None or want in self._groups):
                return  # a read that started after this call was made has covered it
            covered = self._requested
            if (want is None or want in self._groups) and await self._follow_at_once():
                self._done = covered
                return
            # Pipeline mode: BEGIN, the snapshot's settings and the pointer with its xmin are
            # one round trip; the entries to follow, the group to load and COMMIT another.
            async with self.pool.connection() as conn, pipelined_transaction(conn):
                await read_only_snapshot(conn)
                schema, xmin = await active_schema_and_xmin(conn)
                if schema != self._schema:
                    self._forget()
                    self._schema = schema
                following = (
                    await send_entries_since(conn, schema, self._watermark)
                    if self._watermark is not None and self._groups
                    else None
                )
                loading = (
                    await conn.execute(statement(_GROUP, schema), astuple(want))
                    if want is not None and want not in self._groups
                    else None
                )
            # the answers came with COMMIT
            if following is not None:
                self._follow(await read_entries(following))
            self._watermark = xmin
            if loading is not None and want is not None:
                self._put(want, await loading.fetchall())
            self._done = covered

    async def _follow_at_once(self) -> bool:
        """Follow the entries of the groups held in one statement, outside a transaction (its
        snapshot gives the next watermark too): the refresh most answers need. False when it
        cannot: nothing was read yet, or the projection schema moved (a replay's switch)."""
        if self._watermark is None or self._schema is None:
            return False
        if not self._groups:
            return True  # nothing to follow; a group loaded later sets the watermark
        try:
            async with self.pool.connection() as conn:
                cur = await conn.execute(statement(_FOLLOW, self._schema), (str(self._watermark),))
                rows = await cur.fetchall()
        except errors.UndefinedTable:  # the schema read last is gone: a switch came first
            return False
        schema, xmin = rows[0][0], int(rows[0][1])
        if schema != self._schema:
            return False
        self._follow([StoredEntry(*row[2:]) for row in rows if row[2] is not None])
        self._watermark = xmin
        return True

    def _forget(self) -> None:
        self._groups.clear()
        self._by_run.clear()

    def _follow(self, entries: Sequence[StoredEntry]) -> None:
        if not self._groups:
            return
        for entry in entries:
            for group, ranking in self._by_run.get(
                (entry.tenant, entry.board_id, entry.run), {}
            ).items():
                if group == entry.group:
                    ranking.put(entry.user_id, entry.value, micros(entry.reached_at))
                else:  # the user moved to another breakdown group (or has none now)
                    ranking.remove(entry.user_id)

    def _put(self, key: GroupKey, rows: Sequence[tuple[Any, ...]]) -> None:
        ranking = Ranking(None, ((u, v, micros(r)) for u, v, r in rows))
        self._groups[key] = ranking
        self._by_run.setdefault((key.tenant, key.board_id, key.run), {})[key.group] = ranking
        while len(self._groups) > 1 and (
            len(self._groups) > self.max_groups
            or sum(r.entries for r in self._groups.values()) > self.max_entries
        ):
            old, _ = self._groups.popitem(last=False)
            run = self._by_run[(old.tenant, old.board_id, old.run)]
            run.pop(old.group, None)
            if not run:
                del self._by_run[(old.tenant, old.board_id, old.run)]
