"""``pipelined_transaction`` against a real PostgreSQL: all or nothing, and the connection it
leaves is idle and usable, whether the block raised or PostgreSQL refused a statement."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from psycopg import AsyncConnection
from psycopg.pq import TransactionStatus

from projections.store.connections import pipelined_transaction
from tests.support.infra import Namespace

pytestmark = pytest.mark.integration


@pytest.fixture
async def conn(namespace: Namespace) -> AsyncIterator[AsyncConnection[Any]]:
    async with await AsyncConnection.connect(namespace.database_url, autocommit=True) as c:
        await c.execute("CREATE TABLE kept (n int PRIMARY KEY)")
        yield c


async def kept(conn: AsyncConnection[Any]) -> list[int]:
    assert conn.info.transaction_status == TransactionStatus.IDLE
    cur = await conn.execute("SELECT n FROM kept ORDER BY n")
    return [n for (n,) in await cur.fetchall()]


async def test_commits_what_the_block_wrote_and_reads_inside_it(conn: AsyncConnection[Any]) -> None:
    async with pipelined_transaction(conn):
        await conn.execute("INSERT INTO kept VALUES (1)")
        cur = await conn.execute("SELECT count(*) FROM kept")  # a read syncs mid-block
        assert await cur.fetchone() == (1,)
        await conn.execute("INSERT INTO kept VALUES (2)")  # travels with COMMIT
    assert await kept(conn) == [1, 2]


async def test_a_block_that_raises_keeps_nothing(conn: AsyncConnection[Any]) -> None:
    async def give_up() -> None:
        async with pipelined_transaction(conn):
            await conn.execute("INSERT INTO kept VALUES (1)")
            await conn.execute("SELECT 1")
            raise RuntimeError("the caller gave up")

    with pytest.raises(RuntimeError):
        await give_up()
    assert await kept(conn) == []


async def test_a_refused_statement_sent_with_commit_keeps_nothing(
    conn: AsyncConnection[Any],
) -> None:
    insert = "INSERT INTO kept VALUES (%s) -- prepared the fifth time psycopg meets it"
    for n in range(4):
        async with pipelined_transaction(conn):
            await conn.execute(insert, (n,))

    async def refused() -> None:
        async with pipelined_transaction(conn):
            await conn.execute("INSERT INTO kept VALUES (10)")
            await conn.execute("INSERT INTO kept VALUES (0)")  # refused at COMMIT's sync
            await conn.execute(insert, (11,))  # its PREPARE skipped by PostgreSQL

    with pytest.raises(psycopg.errors.UniqueViolation):
        await refused()
    assert await kept(conn) == [0, 1, 2, 3]
    # What psycopg meant to prepare in the failed part was skipped too: the query still works.
    async with pipelined_transaction(conn):
        await conn.execute(insert, (12,))
    assert await kept(conn) == [0, 1, 2, 3, 12]
