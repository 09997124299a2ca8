"""The in-memory rankings against naive SQL over the same PostgreSQL table, under random writes:
values with many ties, users moving between breakdown groups (or leaving every group), boards
with a participant limit, and transactions that commit late — after a younger transaction has
committed and the rankings have been read. After every round each ranking query (every user's
rank, pages from the top, pages around every user, the threshold) must equal the answer of a
full ``ORDER BY`` with ``rank()`` of the committed rows."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql

from projections.core.fold import BatchResult
from projections.core.leaderboards import Entry, EntryChange, Leaderboard, Run
from projections.store.connections import connection_pool
from projections.store.migrate import migrate
from projections.store.postgres import PostgresProjectionStore
from projections.store.ranking import Standing, group_key, group_values
from projections.store.ranking_cache import GroupKey, RankingCache
from tests.support.infra import Namespace

pytestmark = pytest.mark.integration

T0 = datetime(2026, 6, 1, tzinfo=UTC)
RUN = date(2026, 6, 1)
USERS = [f"user-{i:02d}" for i in range(40)]
GROUPS: list[tuple[str, ...] | None] = [("a",), ("b",), ("c", "x"), None]


def board(capacity: int | None) -> Leaderboard:
    return Leaderboard(
        valid_from=T0,
        valid_to=None,
        tenant="t",
        id=uuid.uuid4(),
        key="k",
        name="K",
        rank_by="metric",
        status="active",
        start=RUN,
        created=T0,
        max_participants=capacity,
    )


def batch(changes: list[tuple[Leaderboard, str, Entry]]) -> BatchResult:
    return BatchResult(
        users={},
        changed_totals=frozenset(),
        daily={},
        idempotency={},
        decisions=[],
        leaderboards=[
            (
                ("t", user),
                uuid.uuid4(),
                EntryChange(b, Run(RUN, None), None, entry, RUN, entry.reached_at),
            )
            for b, user, entry in changes
        ],
    )


def naive(database_url: str, b: Leaderboard, group: tuple[str, ...]) -> list[Standing]:
    """Every committed entry of the group, sorted and ranked by PostgreSQL."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        schema = conn.execute("SELECT schema_name FROM laurel.active_projection").fetchone()
        assert schema is not None
        rows = conn.execute(
            sql.SQL(
                "SELECT user_id, value, rank() OVER (ORDER BY value DESC) "
                "FROM {}.leaderboard_entries WHERE tenant = 't' AND leaderboard_id = %s "
                "AND run = %s AND grp = %s ORDER BY value DESC, reached_at, user_id LIMIT %s"
            ).format(sql.Identifier(schema[0])),
            (b.id, RUN, group_key(group), b.max_participants),
        ).fetchall()
    return [Standing(u, v, r) for u, v, r in rows]


@pytest.fixture
async def store(namespace: Namespace) -> AsyncIterator[tuple[PostgresProjectionStore, Any]]:
    await asyncio.to_thread(migrate, namespace.database_url)
    pool = connection_pool(namespace.database_url, max_size=6)
    await pool.open(wait=True)
    try:
        yield PostgresProjectionStore(pool), pool
    finally:
        await pool.close()


@pytest.mark.parametrize(
    ("seed", "max_groups"), [(1, 256), (2, 256), (3, 2)], ids=["a", "b", "evicting"]
)
async def test_rankings_equal_a_naive_sort_under_late_commits(
    store: tuple[PostgresProjectionStore, Any], namespace: Namespace, seed: int, max_groups: int
) -> None:
    """``max_groups`` 2 of the 6 groups: groups are dropped and loaded again between reads."""
    projection, pool = store
    rng = random.Random(seed)
    boards = [board(None), board(5)]
    cache = RankingCache(pool, max_groups=max_groups)
    clock = iter(T0 + timedelta(seconds=s) for s in range(100_000))

    def random_changes(n: int, users: list[str]) -> list[tuple[Leaderboard, str, Entry]]:
        return [
            (
                rng.choice(boards),
                rng.choice(users),
                Entry(RUN, float(rng.randint(0, 6)), rng.choice(GROUPS), next(clock)),
            )
            for _ in range(n)
        ]

    async def write(
        changes: list[tuple[Leaderboard, str, Entry]],
        hold: asyncio.Event,
        written: asyncio.Event | None = None,
    ) -> None:
        async with projection.unit_of_work() as uow:
            await uow.write(batch(changes), [])
            await uow.finish(batch(changes), [], [], {})
            if written is not None:
                written.set()
            await hold.wait()

    async def compare() -> None:
        for b in boards:
            for group in GROUPS[:3]:
                assert group is not None
                ranking = await cache.ranking(
                    GroupKey("t", b.id, RUN, group_key(group) or ""), b.max_participants
                )
                expected = await asyncio.to_thread(naive, namespace.database_url, b, group)
                assert ranking.page(0, 100) == expected
                want_threshold = (
                    expected[-1].value
                    if b.max_participants and ranking.entries >= b.max_participants
                    else 0
                )
                assert ranking.threshold() == want_threshold
                places = {s.user_id: i for i, s in enumerate(expected)}
                for user in USERS:
                    place = places.get(user)
                    assert ranking.rank(user) == (
                        expected[place].rank if place is not None else None
                    )
                    offset, limit = rng.randint(-3, 3), rng.randint(0, 4)
                    around = [] if place is None else expected[max(place + offset, 0) :][:limit]
                    assert ranking.around(user, offset, limit) == around
                start, limit = rng.randint(0, 12), rng.randint(0, 6)
                assert ranking.page(start, limit) == expected[start : start + limit]

    await compare()  # empty, and the groups are loaded before anything is written
    for _ in range(12):
        late, now = asyncio.Event(), asyncio.Event()
        now.set()
        # disjoint users: the younger transaction must not wait for the older one's row locks
        shuffled = rng.sample(USERS, len(USERS))
        older, younger = shuffled[:20], shuffled[20:]
        wrote = asyncio.Event()
        held = asyncio.create_task(write(random_changes(rng.randint(1, 8), older), late, wrote))
        await wrote.wait()  # the held transaction has written (and taken its id) first
        await write(random_changes(rng.randint(1, 8), younger), now)
        await compare()  # the younger commit is seen, the older open one not yet
        late.set()
        await held
        await compare()  # ... and the late commit is not missed
    assert any(len(group_values(group_key(g)) or ()) == 2 for g in GROUPS)
