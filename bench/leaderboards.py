"""Leaderboard reads at 1,000 and 1,000,000 participants, next to naive SQL on the same rows.

Start the stack first (``make up``), then ``make bench-leaderboards`` (or
``python -m bench.leaderboards``). It writes two boards into ``leaderboard_entries`` of the
active projection schema under a scratch tenant (values drawn from a narrow range, so there are
many ties), then times, for each board:

* Laurel: ``RankingCache`` — the in-memory order-statistic ranking, brought up to date with the
  table (one indexed query) before every read, exactly as the API does;
* naive SQL on the same table, with the index it needs (created for the run, on these rows):
  ``ORDER BY … LIMIT`` with ``rank()`` for the top, ``count(*)`` of greater values for a user's
  rank, and the user's position by ``count(*)`` then ``OFFSET`` for the page around them.

It prints p50 and p99 (milliseconds) of the top 10, a random user's rank and the 10 places
around a random user, and deletes its rows at the end. Compare figures within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import resource
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from laurel.local import LocalStack
from laurel.settings import load_settings
from projections.store.connections import active_schema, connection_pool
from projections.store.ranking_cache import GroupKey, RankingCache

RUN = date(2026, 1, 1)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def row(name: str, *values: str) -> None:
    print(f"{name:<44}" + "".join(f"{v:>14}" for v in values), flush=True)


def fill(database_url: str, schema: str, tenant: str, board: uuid.UUID, n: int) -> float:
    """COPY ``n`` entries (values 0..n/10: about ten users per value) into the table."""
    rng = random.Random(n)
    start = time.perf_counter()
    with psycopg.connect(database_url) as conn, conn.cursor() as cur:
        copy = sql.SQL(
            "COPY {}.leaderboard_entries (tenant, leaderboard_id, run, user_id, grp, value, "
            "reached_at) FROM STDIN"
        ).format(sql.Identifier(schema))
        with cur.copy(copy) as out:
            for i in range(n):
                reached = T0 + timedelta(seconds=rng.randrange(86_400 * 30))
                out.write_row(
                    (tenant, board, RUN, f"u{i:07d}", "", rng.randrange(n // 10 + 1), reached)
                )
    return time.perf_counter() - start


def index_for_naive(database_url: str, schema: str, tenant: str) -> sql.Composed:
    """The index naive SQL needs (Laurel does not: its rankings are in memory), on the
    benchmark's rows only; returns the statement that drops it."""
    name = sql.Identifier(f"bench_order_{tenant.replace('-', '_')}")
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL(
                "CREATE INDEX {} ON {}.leaderboard_entries (tenant, leaderboard_id, run, grp, "
                "value DESC, reached_at, user_id) WHERE tenant = {}"
            ).format(name, sql.Identifier(schema), sql.Literal(tenant))
        )
        conn.execute(sql.SQL("ANALYZE {}.leaderboard_entries").format(sql.Identifier(schema)))
    return sql.SQL("DROP INDEX IF EXISTS {}.{}").format(sql.Identifier(schema), name)


def percentiles(samples: list[float]) -> tuple[str, str]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"{statistics.median(ordered) * 1000:.3f}", f"{p99 * 1000:.3f}"


async def timed(call: Callable[[], Awaitable[Any]], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - start)
    return samples


class NaiveSql:
    """The ranking queries a straightforward implementation would run on every read."""

    def __init__(self, conn: psycopg.AsyncConnection[Any], schema: str, key: GroupKey) -> None:
        self.conn = conn
        self.table = sql.SQL("{}.leaderboard_entries").format(sql.Identifier(schema))
        self.where = sql.SQL(
            "tenant = %(t)s AND leaderboard_id = %(b)s AND run = %(r)s AND grp = %(g)s"
        )
        self.args = {"t": key.tenant, "b": key.board_id, "r": key.run, "g": key.group}

    async def _rows(self, query: str, **extra: Any) -> list[Any]:
        composed = sql.SQL(query).format(table=self.table, where=self.where)
        return await (await self.conn.execute(composed, {**self.args, **extra})).fetchall()

    async def top(self, limit: int = 10) -> list[Any]:
        return await self._rows(
            "SELECT user_id, value, rank() OVER (ORDER BY value DESC) FROM {table} "
            "WHERE {where} ORDER BY value DESC, reached_at, user_id LIMIT %(n)s",
            n=limit,
        )

    async def rank(self, user_id: str) -> int:
        found = await self._rows(
            "SELECT count(*) + 1 FROM {table} WHERE {where} AND value > "
            "(SELECT value FROM {table} WHERE {where} AND user_id = %(u)s)",
            u=user_id,
        )
        return int(found[0][0])

    async def around(self, user_id: str, offset: int = -5, limit: int = 10) -> list[Any]:
        found = await self._rows(
            "WITH m AS (SELECT value, reached_at, user_id FROM {table} WHERE {where} "
            "AND user_id = %(u)s) SELECT count(*) FROM {table} e, m WHERE e.tenant = %(t)s "
            "AND e.leaderboard_id = %(b)s AND e.run = %(r)s AND e.grp = %(g)s AND "
            "(e.value > m.value OR (e.value = m.value AND (e.reached_at, e.user_id) < "
            "(m.reached_at, m.user_id)))",
            u=user_id,
        )
        return await self._rows(
            "SELECT user_id, value FROM {table} WHERE {where} "
            "ORDER BY value DESC, reached_at, user_id OFFSET %(o)s LIMIT %(n)s",
            o=max(int(found[0][0]) + offset, 0),
            n=limit,
        )


async def bench_board(
    cache: RankingCache,
    naive: NaiveSql,
    key: GroupKey,
    n: int,
    repeat: int,
) -> None:
    rng = random.Random(7)
    users = [f"u{rng.randrange(n):07d}" for _ in range(repeat)]
    picks = itertools.cycle(users)

    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    ranking = await cache.ranking(key, None)
    load = time.perf_counter() - start
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    row(f"{n:,} participants: first read loads the group", f"{load:.2f} s", f"+{grown:.0f} MiB")
    assert ranking.entries == n

    # the answers agree before anything is timed
    sample = users[0]
    assert ranking.rank(sample) == await naive.rank(sample)
    assert [s.user_id for s in ranking.page(0, 10)] == [r[0] for r in await naive.top()]
    assert [s.user_id for s in ranking.around(sample, -5, 10)] == [
        r[0] for r in await naive.around(sample)
    ]

    async def laurel_top() -> Any:
        return (await cache.ranking(key, None)).page(0, 10)

    async def laurel_rank() -> Any:
        return (await cache.ranking(key, None)).rank(next(picks))

    async def laurel_around() -> Any:
        return (await cache.ranking(key, None)).around(next(picks), -5, 10)

    async def sql_rank() -> Any:
        return await naive.rank(next(picks))

    async def sql_around() -> Any:
        return await naive.around(next(picks))

    row(f"{n:,} participants (ms)", "laurel p50", "laurel p99", "naive p50", "naive p99")
    slow = max(1, repeat // 10) if n > 100_000 else repeat
    for name, mine, theirs, times in [
        ("top 10", laurel_top, naive.top, repeat),
        ("a user's rank", laurel_rank, sql_rank, slow),
        ("10 places around a user", laurel_around, sql_around, slow),
    ]:
        ours = percentiles(await timed(mine, repeat))
        base = percentiles(await timed(theirs, times))
        row(f"  {name}", *ours, *base)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=500)
    args = parser.parse_args()

    settings = load_settings()
    database_url = LocalStack(settings).database_url()
    tenant = f"bench-{uuid.uuid4().hex[:8]}"
    pool = connection_pool(database_url, max_size=2)
    await pool.open(wait=True)
    async with pool.connection() as conn:
        schema = await active_schema(conn)
    drop_index: sql.Composed | None = None
    try:
        boards = {n: uuid.uuid4() for n in (args.small, args.large)}
        for n, board in boards.items():
            took = await asyncio.to_thread(fill, database_url, schema, tenant, board, n)
            row(f"COPY {n:,} entries", f"{n / took:,.0f} rows/s")
        drop_index = await asyncio.to_thread(index_for_naive, database_url, schema, tenant)
        cache = RankingCache(pool)
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            for n, board in boards.items():
                key = GroupKey(tenant, board, RUN, "")
                await bench_board(cache, NaiveSql(conn, schema, key), key, n, args.repeat)
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            if drop_index is not None:
                conn.execute(drop_index)
            conn.execute(
                sql.SQL("DELETE FROM {}.leaderboard_entries WHERE tenant = %s").format(
                    sql.Identifier(schema)
                ),
                (tenant,),
            )
        await pool.close()


if __name__ == "__main__":
    asyncio.run(main())
