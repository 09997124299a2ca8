"""Connections to PostgreSQL: the pool every process uses, the active projection schema, and
column-array writes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from psycopg import AsyncConnection, sql
from psycopg.types.json import set_json_dumps, set_json_loads
from psycopg_pool import AsyncConnectionPool


async def _configure(conn: AsyncConnection[Any]) -> None:
    # orjson instead of the standard library for every jsonb value read or written.
    set_json_dumps(orjson.dumps, conn)
    set_json_loads(orjson.loads, conn)


def connection_pool(url: str, min_size: int = 1, max_size: int = 4) -> AsyncConnectionPool[Any]:
    """An unopened pool of autocommit connections (transactions are always explicit: see the
    psycopg trap in the runtime notes) that encode and decode jsonb with orjson."""
    return AsyncConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        kwargs={"autocommit": True},
        configure=_configure,
        open=False,
    )


async def active_schema(conn: AsyncConnection[Any], *, lock: bool = False) -> str:
    """The projection schema that serves reads and receives writes."""
    suffix = " FOR SHARE" if lock else ""
    cur = await conn.execute(f"SELECT schema_name FROM laurel.active_projection{suffix}")
    row = await cur.fetchone()
    if row is None:
        raise RuntimeError("no active projection schema: run `laurel migrate`")
    return str(row[0])


async def execute_columns(
    conn: AsyncConnection[Any], statement: sql.Composed, rows: Sequence[Sequence[Any]]
) -> None:
    """Run ``statement`` (an ``INSERT … SELECT FROM unnest(…)`` or alike) with one array
    parameter per column of ``rows``: one round trip for any number of rows (none: no trip)."""
    if rows:
        columns = [list(column) for column in zip(*rows, strict=True)]
        await conn.execute(statement, columns, binary=True)
