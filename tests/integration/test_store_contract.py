"""The projection store's contract, run against both of its adapters: the in-memory twin the
unit tests use and PostgreSQL. Only the port (:class:`~projections.store.ports.ProjectionStore`)
and the real batch projector are used, so the twin may stand in for PostgreSQL only as far as
these tests say it does."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg import sql

from ingest.contract import Command, RecordMetricEvent, UpsertUser, UserPatch, encode, record_key
from processors.projector import BatchReport, project_batch
from projections.core.fold import Projection, fold
from projections.core.model import ConfigHistory, MetricVersion
from projections.core.streaks import StreakSettings
from projections.store.connections import connection_pool
from projections.store.memory import MemoryProjectionStore
from projections.store.ports import BatchQuery, OutcomeRow, ProjectionStore, SourceRecord
from projections.store.postgres import PostgresProjectionStore
from projections.store.projection_schemas import create_next_schema, lock_active, switch_active
from tests.support.config import add_document, create_metric, set_streak_settings
from tests.support.infra import Infra, Namespace, new_namespace
from tests.support.reference import DiscardSink

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)
ADA = ("", "ada")
KEY = ("", "ada", "lessons", "lesson-1")


@pytest.fixture(params=["memory", "postgres"])
async def store(
    request: pytest.FixtureRequest, infra: Infra
) -> AsyncIterator[tuple[ProjectionStore, uuid.UUID]]:
    """Each adapter with one metric, ``lessons``; yields the store and the metric's id."""
    if request.param == "memory":
        metric_id = uuid.uuid4()
        metric = MetricVersion(NOW - timedelta(days=1), None, "", metric_id, "lessons", "Lessons")
        yield MemoryProjectionStore(ConfigHistory(metrics=(metric,))), metric_id
        return
    async with postgres_store(infra) as (projection, _, metric_id):
        yield projection, metric_id


@asynccontextmanager
async def postgres_store(
    infra: Infra,
) -> AsyncIterator[tuple[PostgresProjectionStore, Namespace, uuid.UUID]]:
    """A PostgreSQL store over a fresh namespace with one metric, ``lessons``; yields the
    store, the namespace and the metric's id."""
    namespace = await asyncio.to_thread(new_namespace, infra)  # it runs its own event loop
    metric_id = create_metric(namespace.database_url, "lessons")
    pool = connection_pool(namespace.database_url)
    await pool.open(wait=True)
    try:
        yield PostgresProjectionStore(pool), namespace, metric_id
    finally:
        await pool.close()


def event(value: float, idempotency_key: str | None = None) -> RecordMetricEvent:
    return RecordMetricEvent(
        uuid.uuid4(), "", "ada", NOW, "lessons", value, {}, UserPatch(), idempotency_key
    )


def records(commands: list[Command | bytes]) -> list[SourceRecord]:
    """Records at offsets 0, 1, …; bytes stand for a value that is not a command."""
    return [
        SourceRecord("t", 0, n, record_key(*ADA), c if isinstance(c, bytes) else encode(c))
        for n, c in enumerate(commands)
    ]


async def project(store: ProjectionStore, batch: list[SourceRecord]) -> BatchReport:
    return await project_batch(store, batch, DiscardSink())


async def test_a_batch_is_applied_once_with_its_checkpoint_outcomes_and_keys(
    store: tuple[ProjectionStore, uuid.UUID],
) -> None:
    projection, metric_id = store
    upsert = UpsertUser(uuid.uuid4(), "", "ada", NOW, UserPatch(name="Ada"), "create")
    first, keyed, repeat = event(2.0), event(1.0, "lesson-1"), event(5.0, "lesson-1")
    batch = records([upsert, first, keyed, repeat, b"not json", first])  # first: twice
    report = await project(projection, batch)
    assert report == BatchReport(received=6, skipped=0, applied=4, dead_lettered=1)

    async with projection.unit_of_work() as uow:
        assert await uow.lock_checkpoints("t", [0, 1]) == {0: 5, 1: -1}
        ids = [("", c.id) for c in (upsert, first, keyed, repeat)]
        seen = await uow.load([ADA], ids, [KEY])
    user = seen.users[ADA]
    assert user.totals[metric_id] == 3.0  # the duplicate and the idempotent repeat count 0
    assert user.profile is not None
    assert user.profile.name == "Ada"
    assert seen.decided == frozenset(ids)
    assert seen.idempotency == {KEY: keyed.id}


async def test_records_at_or_below_the_checkpoint_are_skipped(
    store: tuple[ProjectionStore, uuid.UUID],
) -> None:
    projection, metric_id = store
    batch = records([event(2.0), event(3.0)])
    await project(projection, batch)
    again = await project(projection, [*batch, *records([event(1.0), event(4.0), event(8.0)])[2:]])
    assert again == BatchReport(received=3, skipped=2, applied=1, dead_lettered=0)
    async with projection.unit_of_work() as uow:
        totals = (await uow.load([ADA], [], [])).users[ADA].totals
        assert await uow.lock_checkpoints("t", [0]) == {0: 2}
    assert totals[metric_id] == 13.0  # 2 + 3, then only the record at offset 2


async def test_a_unit_of_work_that_fails_leaves_nothing(
    store: tuple[ProjectionStore, uuid.UUID],
) -> None:
    projection, _ = store
    empty = fold(Projection(), (), ConfigHistory())

    async def save_then_fail() -> None:
        async with projection.unit_of_work() as uow:
            await uow.lock_checkpoints("t", [0])
            await uow.finish(empty, [], [], {("t", 0): 99})
            raise RuntimeError("midway")

    with pytest.raises(RuntimeError, match="midway"):
        await save_then_fail()
    async with projection.unit_of_work() as uow:
        assert await uow.lock_checkpoints("t", [0]) == {0: -1}


@pytest.mark.parametrize("in_parts", [False, True], ids=["one statement", "in parts"])
async def test_a_write_postgresql_refuses_raises_its_error_and_keeps_nothing(
    infra: Infra, in_parts: bool
) -> None:
    """The writes go with COMMIT (pipeline mode): a refused one still raises its typed error
    from the unit of work, nothing of the transaction stays, and the connection is usable —
    also when a large batch's parts are sent one statement at a time and the refused row is
    in a middle part."""
    namespace = await asyncio.to_thread(new_namespace, infra)
    pool = connection_pool(namespace.database_url, max_size=1)  # the next unit reuses it
    await pool.open(wait=True)
    try:
        projection = PostgresProjectionStore(pool)
        empty = fold(Projection(), (), ConfigHistory())
        source = SourceRecord("t", 0, 7, None, None)
        # jsonb cannot hold \u0000: PostgreSQL refuses the outcome's row (SQLSTATE 22P05)
        refused = OutcomeRow("", uuid.uuid4(), "ada", "applied", {"name": "a\x00b"}, source)
        fine = [
            OutcomeRow("", uuid.uuid4(), f"u{n}", "applied", {"n": n}, source)
            for n in range(60 if in_parts else 0)  # more than COMBINED_MAX: one by one
        ]
        written = [fine[:30], [refused], fine[30:]] if in_parts else [[refused]]
        named = frozenset(("", o.command_id) for o in [refused, *fine])

        async def save_refused() -> None:
            async with projection.unit_of_work() as uow:
                await uow.read(BatchQuery("t", frozenset({0}), commands=named))
                for part in written:
                    await uow.write(empty, part)
                await uow.finish(empty, [o for p in written for o in p], [], {("t", 0): 7})

        with pytest.raises(psycopg.DataError):
            await save_refused()
        async with projection.unit_of_work() as uow:
            assert await uow.lock_checkpoints("t", [0]) == {0: -1}
            assert (await uow.load([], named, [])).decided == frozenset()
    finally:
        await pool.close()


def _epoch(database_url: str, tenant: str) -> int:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT epoch FROM laurel.config_epochs WHERE tenant = %s", (tenant,)
        ).fetchone()
    return int(row[0]) if row else 0


async def test_every_configuration_write_moves_its_tenants_epoch_alone(infra: Infra) -> None:
    """The processor keeps a tenant's configuration while its epoch stays: each write to the
    four configuration tables (insert, update, delete) must move it, and only its tenant's."""
    url = (await asyncio.to_thread(new_namespace, infra)).database_url
    seen = [_epoch(url, "acme"), _epoch(url, "other")]
    writes: list[Callable[[], object]] = [
        lambda: create_metric(url, "lessons", tenant="acme"),
        lambda: set_streak_settings(url, StreakSettings(), tenant="acme"),
        lambda: add_document(url, "achievement", {"key": "a"}, tenant="acme"),
        lambda: _sql(
            url,
            "INSERT INTO laurel.attributes (tenant, id, key, name, type, created, valid_from) "
            "VALUES ('acme', gen_random_uuid(), 'plan', 'Plan', 'user', now(), now())",
        ),
        lambda: _sql(url, "UPDATE laurel.metrics SET name = 'Renamed' WHERE tenant = 'acme'"),
        lambda: _sql(url, "DELETE FROM laurel.documents WHERE tenant = 'acme'"),
    ]
    for write in writes:
        write()
        now = [_epoch(url, "acme"), _epoch(url, "other")]
        assert now[0] > seen[0]
        assert now[1] == seen[1]
        seen = now


def _sql(database_url: str, query: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(query.encode())


async def test_a_configuration_change_between_batches_is_seen_by_the_next(infra: Infra) -> None:
    """The first batch warms the store's configuration cache; a metric created after it is
    known to the very next batch."""
    async with postgres_store(infra) as (projection, namespace, _):
        await project(projection, records([event(1.0)]))
        lectures = create_metric(namespace.database_url, "lectures")
        second = replace(event(4.0), metric_key="lectures")
        await project(projection, [SourceRecord("t", 0, 1, record_key(*ADA), encode(second))])
        async with projection.unit_of_work() as uow:
            totals = (await uow.load([ADA], [], [])).users[ADA].totals
    assert totals[lectures] == 4.0


async def test_a_batch_after_a_switch_goes_to_the_schema_switched_to(infra: Infra) -> None:
    """The store sends a batch's reads to the schema the previous batch found, before the
    pointer answers: after a replay's switch in between, the batch must still read and write
    the schema switched to, and only it."""
    async with postgres_store(infra) as (projection, namespace, _):
        pool = projection.pool
        await project(projection, records([event(1.0)]))  # found: the first schema
        fresh, live = await asyncio.to_thread(create_next_schema, namespace.database_url)
        async with pool.connection() as conn, conn.transaction():
            await lock_active(conn)
            await switch_active(conn, fresh)

        second = SourceRecord("t", 0, 1, record_key(*ADA), encode(event(4.0)))
        assert await project(projection, [second]) == BatchReport(1, 0, 1, 0)
        async with projection.unit_of_work() as uow:
            assert uow.schema == fresh
            assert await uow.lock_checkpoints("t", [0]) == {0: 1}
            user = (await uow.load([ADA], [], [])).users[ADA]
        assert list(user.totals.values()) == [4.0]  # the new schema holds the second alone
        async with pool.connection() as conn:
            cur = await conn.execute(
                sql.SQL("SELECT last_offset FROM {}.checkpoints").format(sql.Identifier(live))
            )
            assert await cur.fetchall() == [(0,)]  # the first schema kept the first batch's
