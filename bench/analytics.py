"""The analytics overview and retention at 100,000 users x 400 days, next to the same numbers
computed by SQL over the raw per-user daily rows, in one run.

Start the stack first (``make up``; only its PostgreSQL is used), then ``make bench-analytics``
(or ``python -m bench.analytics``). It creates a scratch projection schema (migrated like any),
seeds ``metric_daily`` with each user active on a day with probability ``--share``, fills the
rollups with the same statements the migration uses for existing data (a test checks those
equal what the processor writes), then times, p50 and p99 over ``--rounds``:

* Laurel: :func:`projections.store.analytics.overview` and ``retention`` (the rollups);
* naive SQL: distinct users per day, first days per user, and cohort weeks, straight from the
  daily rows (with their primary key's index).

It checks that both give the same numbers, prints milliseconds, and drops the schema.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from laurel.local import LocalStack
from laurel.settings import load_settings
from projections.store.analytics import overview, retention
from projections.store.connections import connection_pool
from projections.store.migrate import create_projection_schema
from projections.store.reads import ProjectionReader

TENANT = "bench"
START = date(2025, 1, 1)
MIGRATION = Path(__file__).resolve().parents[1] / (
    "src/projections/store/migrations/projection_0008_activity.sql"
)

NAIVE_DAYS = (
    "SELECT day, count(DISTINCT user_id) FROM {s}.metric_daily WHERE tenant = %s "
    "AND day BETWEEN %s AND %s GROUP BY day"
)
NAIVE_NEW = (
    "SELECT first, count(*) FROM (SELECT user_id, min(day) AS first FROM {s}.metric_daily "
    "WHERE tenant = %s GROUP BY user_id) f WHERE first BETWEEN %s AND %s GROUP BY first"
)
NAIVE_COHORTS = (
    "SELECT date_trunc('week', f.first)::date, date_trunc('week', d.day)::date, "
    "count(DISTINCT d.user_id) FROM {s}.metric_daily d JOIN (SELECT user_id, min(day) AS first "
    "FROM {s}.metric_daily WHERE tenant = %s GROUP BY user_id) f USING (user_id) "
    "WHERE d.tenant = %s AND f.first BETWEEN date_trunc('week', %s::date)::date AND %s "
    "GROUP BY 1, 2"
)


def seed(database_url: str, schema: str, users: int, days: int, share: float) -> int:
    """Daily rows for ``users`` over ``days``, then the rollups; returns how many rows."""
    ident = sql.Identifier(schema)
    with psycopg.connect(database_url, autocommit=True) as conn:
        create_projection_schema(conn, schema)
        conn.execute(
            sql.SQL(
                "INSERT INTO {}.metric_daily (tenant, user_id, metric_id, day, change) "
                "SELECT %s, 'user-' || u, %s, %s::date + d, 1 + (u + d) %% 3 "
                "FROM generate_series(1, %s) u, generate_series(0, %s - 1) d "
                "WHERE random() < %s"
            ).format(ident),
            (TENANT, uuid.UUID(int=1), START, users, days, share),
        )
        text = MIGRATION.read_text()
        backfill = text[text.index("-- What the processor would have written") :]
        conn.execute(backfill.replace("{schema}", f'"{schema}"').encode())
        conn.execute(sql.SQL("ANALYZE {}.metric_daily").format(ident))
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}.metric_daily").format(ident)).fetchone()
    assert row is not None
    return int(row[0])


async def timed(call: Callable[[], Awaitable[Any]], rounds: int) -> tuple[float, float, Any]:
    """p50 and p99 milliseconds of ``call``, and its last answer."""
    spent, answer = [], None
    for _ in range(rounds):
        started = time.perf_counter()
        answer = await call()
        spent.append((time.perf_counter() - started) * 1000)
    spent.sort()
    p99 = spent[min(len(spent) - 1, int(len(spent) * 0.99))]
    return statistics.median(spent), p99, answer


async def measure(database_url: str, schema: str, days: int, rounds: int) -> list[str]:
    pool = connection_pool(database_url, max_size=2)
    await pool.open(wait=True)
    reader = ProjectionReader(pool, schema)
    until = START + timedelta(days=days - 1)
    lines = []
    try:
        for label, since in (("30 days", until - timedelta(days=29)), (f"{days} days", START)):

            async def ours_overview(s: date = since) -> Any:
                return await overview(reader, TENANT, s, until)

            ours = await timed(ours_overview, rounds)

            async def naive_overview(s: date = since) -> Any:
                return (
                    await reader.rows(NAIVE_DAYS, (TENANT, s, until)),
                    await reader.rows(NAIVE_NEW, (TENANT, s, until)),
                )

            theirs = await timed(naive_overview, rounds)
            found, (per_day, new) = ours[2], theirs[2]
            assert {d: u for d, (u, _) in found.days.items()} == dict(per_day), "active users"
            assert {d: n for d, (_, n) in found.days.items() if n} == dict(new), "new users"
            lines.append(_line(f"overview, {label}", ours, theirs))

            async def ours_retention(s: date = since) -> Any:
                return await retention(reader, TENANT, s, until)

            mine = await timed(ours_retention, rounds)

            async def naive_retention(s: date = since) -> Any:
                return await reader.rows(NAIVE_COHORTS, (TENANT, TENANT, s, until))

            naive = await timed(naive_retention, rounds)
            assert mine[2].weekly == {(c, w): n for c, w, n in naive[2]}, "cohorts"
            lines.append(_line(f"retention, {label}", mine, naive))
    finally:
        await pool.close()
    return lines


def _line(name: str, ours: tuple[float, float, Any], theirs: tuple[float, float, Any]) -> str:
    return (
        f"{name:<22} Laurel {ours[0]:8.1f} / {ours[1]:8.1f} ms    "
        f"naive SQL {theirs[0]:9.1f} / {theirs[1]:9.1f} ms    ({theirs[0] / ours[0]:,.0f}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=400)
    parser.add_argument("--share", type=float, default=0.05, help="P(a user is active a day)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    database_url = LocalStack(load_settings()).database_url()
    schema = f"bench_analytics_{uuid.uuid4().hex[:8]}"
    try:
        started = time.perf_counter()
        rows = seed(database_url, schema, args.users, args.days, args.share)
        print(
            f"analytics: {args.users:,} users x {args.days} days, {rows:,} daily rows "
            f"(seeded and rolled up in {time.perf_counter() - started:.0f} s); p50 / p99"
        )
        for line in asyncio.run(measure(database_url, schema, args.days, args.rounds)):
            print(line)
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


if __name__ == "__main__":
    main()
