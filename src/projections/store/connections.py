"""Connections to PostgreSQL: the pool every process uses, the active projection schema,
statements composed once, and batch writes of rows as one JSON parameter."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Sequence
from typing import Any

import orjson
import psycopg
from psycopg import AsyncConnection, AsyncCursor, AsyncRawCursor, OperationalError, sql
from psycopg.pq import TransactionStatus
from psycopg.types.json import Jsonb, set_json_dumps, set_json_loads
from psycopg_pool import AsyncConnectionPool, PoolTimeout

DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (OperationalError, PoolTimeout)
"""What a statement raises while PostgreSQL cannot be reached (a restart, a dropped
connection, a pool with no connection to give): worth retrying, unlike a statement refused."""


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


@contextlib.asynccontextmanager
async def pipelined_transaction(conn: AsyncConnection[Any]) -> AsyncIterator[None]:
    """A transaction in pipeline mode whose last statements travel with its ``COMMIT``, on an
    autocommit connection (as :func:`connection_pool` gives).

    ``BEGIN`` and ``COMMIT`` are statements of the pipeline, so what the block sent after its
    last read, and the ``COMMIT``, cost one round trip. psycopg's ``conn.transaction()`` in
    pipeline mode syncs before ``COMMIT`` (to raise a refused statement inside the block):
    one more round trip per transaction and, in a one-record batch, about a tenth of its CPU.

    A statement PostgreSQL refuses raises its error (``psycopg.DataError``…) when the block
    ends: PostgreSQL skips what follows it in the pipeline, ``COMMIT`` included, and the
    transaction is rolled back, as it is when the block raises.
    """
    try:
        async with conn.pipeline():
            await conn.execute(b"BEGIN", prepare=False)
            yield
            await conn.execute(b"COMMIT", prepare=False)
    except BaseException:
        if not conn.closed and conn.info.transaction_status != TransactionStatus.IDLE:
            # a statement refused among those sent with COMMIT leaves the transaction
            # aborted, not ended: end it before the connection is used again
            with contextlib.suppress(psycopg.Error):
                await conn.rollback()
        raise


async def active_schema(conn: AsyncConnection[Any], *, lock: bool = False) -> str:
    """The projection schema that serves reads and receives writes."""
    return await read_active_schema(await send_active_schema(conn, lock=lock))


async def send_active_schema(conn: AsyncConnection[Any], *, lock: bool = False) -> AsyncCursor[Any]:
    """:func:`active_schema`'s query, sent (in pipeline mode, with what follows it) but not
    read: :func:`read_active_schema` reads it."""
    suffix = " FOR SHARE" if lock else ""
    return await conn.execute(f"SELECT schema_name FROM laurel.active_projection{suffix}")


async def read_active_schema(cursor: AsyncCursor[Any]) -> str:
    """The schema :func:`send_active_schema` asked for."""
    return str(_pointer(await cursor.fetchone())[0])


async def active_schema_and_xmin(conn: AsyncConnection[Any]) -> tuple[str, int]:
    """:func:`active_schema`, and the current snapshot's ``xmin`` — the oldest transaction
    still running as of the snapshot: every transaction with a smaller id has ended, so none
    can commit rows it wrote later — in one statement."""
    cur = await conn.execute(
        b"SELECT schema_name, pg_snapshot_xmin(pg_current_snapshot())::text "
        b"FROM laurel.active_projection"
    )
    row = _pointer(await cur.fetchone())
    return str(row[0]), int(row[1])


def _pointer(row: tuple[Any, ...] | None) -> tuple[Any, ...]:
    if row is None:
        raise RuntimeError("no active projection schema: run `laurel migrate`")
    return row


def _column(index: int, type_: str) -> str:
    if type_ == "jsonb":  # a JSON null is SQL's NULL here, as with a None parameter
        return f"nullif(e->{index}, 'null'::jsonb) AS c{index}"
    if type_ == "bytea":  # sent as hex (see _unsupported)
        return f"decode(e->>{index}, 'hex') AS c{index}"
    return f"(e->>{index})::{type_} AS c{index}"


def json_rows(types: Sequence[str]) -> sql.Composable:
    """A ``FROM`` item of the rows passed as one JSON array of arrays (parameter ``%s``), each
    column cast to its PostgreSQL type in ``types``; columns are named ``c0``, ``c1``…"""
    columns = ", ".join(_column(i, t) for i, t in enumerate(types))
    return sql.SQL(f"(SELECT {columns} FROM jsonb_array_elements(%s::jsonb) AS e)")


@functools.lru_cache(maxsize=512)
def statement(text: str, schema: str | None = None, types: str | None = None) -> bytes:
    """``text`` with ``{s}`` the ``schema`` and ``{rows}`` a :func:`json_rows` item of ``types``
    (PostgreSQL's names, separated by commas), as the bytes psycopg sends. Composed once per
    statement and schema: composing ~30 statements in every batch was a fifth of a one-record
    batch's CPU."""
    parts: dict[str, sql.Composable] = {}
    if schema is not None:
        parts["s"] = sql.Identifier(schema)
    if types is not None:
        parts["rows"] = json_rows(types.split(", "))
    return sql.SQL(text).format(**parts).as_bytes(None)


def _unsupported(value: object) -> str:
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


async def execute_rows(
    conn: AsyncConnection[Any], query: bytes, rows: Sequence[Sequence[Any]]
) -> None:
    """Run ``query`` (a :func:`statement`), whose one parameter is a :func:`json_rows` item,
    with ``rows``: one round trip and one parameter for any number of rows (none: no trip).

    orjson writes the whole batch in C and PostgreSQL parses it in C; column arrays
    (:func:`execute_columns`) are dumped element by element in Python, which cost a third of a
    batch's write time.
    """
    if rows:
        await conn.execute(query, (Jsonb(rows, dumps=dump_json),))


class Writes:
    """Statements over rows passed as JSON, for one transaction's writes.

    A small batch's statements go as one: each queued with :meth:`add` becomes a
    data-modifying CTE of a single statement, its rows that statement's own parameter, and the
    statement, sent by :meth:`execute`, ends by sending the queued notifications. A one-record
    batch's ~20 writes used to be ~20 statements, and psycopg's work per statement (composing,
    binding, reading each result) was most of its write time, and of PostgreSQL's too. A large
    batch's go one by one in the pipeline as they are added: PostgreSQL runs each while the
    next one's rows are made and dumped, which one statement at the end would forgo (batches
    of 500 were a tenth slower that way). As one statement, every part sees only what was there
    before it began, so no statement added may depend on what another one writes.
    """

    def __init__(self, conn: AsyncConnection[Any], schema: str, *, combined: bool) -> None:
        """``combined``: send the statements as one (a small batch)."""
        self._conn = conn
        self._schema = schema
        self._combined = combined
        self._parts: list[tuple[str, str, str]] = []
        self._rows: list[Jsonb] = []
        self._notifications: list[tuple[str, str]] = []

    async def add(
        self, text: str, types: str, rows: Sequence[Sequence[Any]], before: str = ""
    ) -> None:
        """Write ``rows`` with ``text`` (one ``INSERT`` or ``UPDATE``; ``{s}`` the schema,
        ``{rows}`` a :func:`json_rows` item of ``types``) — nothing when there are none.
        ``before``: CTEs the statement reads (``name AS (…), …``, names unique in the batch);
        ``{rows}`` appears once, in ``text`` or in ``before``."""
        assert (text + before).count("{rows}") == 1
        assert not rows or len(rows[0]) == types.count(",") + 1
        if not rows:
            return
        if self._combined:
            self._parts.append((text, types, before))
            self._rows.append(Jsonb(rows, dumps=dump_json))
        else:
            query = f"WITH {before} {text}" if before else text
            await execute_rows(self._conn, statement(query, self._schema, types), rows)

    def notify(self, channel: str, payload: str) -> None:
        """Send ``pg_notify(channel, payload)`` with the writes."""
        self._notifications.append((channel, payload))

    async def execute(self) -> None:
        """Send what is still queued: the combined statement, the notifications."""
        notifications = [Jsonb(self._notifications, dumps=dump_json)] if self._notifications else []
        if not self._parts:
            if notifications:
                await self._conn.execute(_NOTIFY, notifications)
            return
        # A raw cursor: the statement already has PostgreSQL's own placeholders. psycopg
        # converts %s placeholders with a cache only for statements up to 4 kB, and splitting
        # this one anew in every batch was a fifth of its cost.
        await AsyncRawCursor(self._conn).execute(
            _combined(self._schema, tuple(self._parts), bool(notifications)),
            [*self._rows, *notifications],
        )


_NOTIFY = b"SELECT pg_notify(n->>0, n->>1) FROM jsonb_array_elements(%s::jsonb) AS n"
"""Send the notifications in a JSON array of ``[channel, payload]`` pairs."""


@functools.lru_cache(maxsize=256)
def _combined(schema: str, parts: tuple[tuple[str, str, str], ...], notify: bool) -> bytes:
    """The statement :meth:`Writes.execute` sends, with ``$n`` placeholders."""
    ctes = [
        statement(f"{before + ', ' if before else ''}w{i} AS ({text})", schema, types)
        for i, (text, types, before) in enumerate(parts)
    ]
    tail = _NOTIFY if notify else b"SELECT 1"
    text = (b"WITH " + b", ".join(ctes) + b" " + tail) if ctes else tail
    first, *rest = text.split(b"%s")  # every %s is a parameter: the statements hold no other %
    return first + b"".join(b"$%d" % n + piece for n, piece in enumerate(rest, 1))


def dump_json(value: object) -> bytes:
    """``value`` as the JSON Laurel stores (orjson; naive datetimes as UTC, bytes as hex)."""
    return orjson.dumps(value, default=_unsupported, option=orjson.OPT_NAIVE_UTC)


async def execute_columns(
    conn: AsyncConnection[Any], statement: sql.Composed, rows: Sequence[Sequence[Any]]
) -> None:
    """Run ``statement`` (an ``INSERT … SELECT FROM unnest(…)`` or alike) with one array
    parameter per column of ``rows``: one round trip for any number of rows (none: no trip)."""
    if rows:
        columns = [list(column) for column in zip(*rows, strict=True)]
        await conn.execute(statement, columns, binary=True)
