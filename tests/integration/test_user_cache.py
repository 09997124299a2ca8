"""The processor's user-state cache against a real PostgreSQL: whoever else writes a partition
(a new owner after a rebalance, a zombie that lost it, a revocation mid-batch), the projection
stays the reference fold of the log."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from ingest.contract import RecordMetricEvent, UserPatch, encode, record_key
from processors.projector import project_batch
from processors.user_cache import UserStateCache, home_partition
from projections.core.fold import BatchResult
from projections.store.config_history import load_config
from projections.store.connections import connection_pool
from projections.store.memory import MemoryProjectionStore
from projections.store.ports import DeadLetter, OutcomeRow, ProjectionUnitOfWork, SourceRecord
from projections.store.postgres import PostgresProjectionStore
from tests.support.config import create_metric
from tests.support.infra import Namespace
from tests.support.reference import (
    FAR_FUTURE,
    FAR_PAST,
    DiscardSink,
    projected_totals,
    reference_totals,
)

pytestmark = pytest.mark.integration

PARTITION = 0


def users_at_home(partitions: int, count: int) -> list[str]:
    """``count`` user ids whose records belong on :data:`PARTITION`."""
    found = (f"runner-{i}" for i in range(10_000))
    return [u for u in found if home_partition(record_key("", u), partitions) == PARTITION][:count]


def partition_records(ns: Namespace, users: Sequence[str], n: int) -> list[SourceRecord]:
    """``n`` metric events of ``users`` in turn, at offsets 0… of :data:`PARTITION`."""
    start = datetime.now(UTC)
    out = []
    for offset in range(n):
        user = users[offset % len(users)]
        command = RecordMetricEvent(
            uuid.uuid4(),
            "",
            user,
            start + timedelta(minutes=offset),
            "laps",
            1.0 + offset % 3,
            {},
            UserPatch(),
        )
        key = record_key("", user)
        out.append(SourceRecord(ns.commands_topic, PARTITION, offset, key, encode(command)))
    return out


async def reference(ns: Namespace, records: Sequence[SourceRecord]) -> dict[Any, float]:
    async with await psycopg.AsyncConnection.connect(ns.database_url, autocommit=True) as conn:
        config = await load_config(conn, [""], FAR_PAST, FAR_FUTURE)
    store = MemoryProjectionStore(config)
    await project_batch(store, records, DiscardSink())
    return reference_totals(store)


@asynccontextmanager
async def postgres_store(ns: Namespace) -> AsyncIterator[PostgresProjectionStore]:
    pool = connection_pool(ns.database_url)
    await pool.open(wait=True)
    try:
        yield PostgresProjectionStore(pool)
    finally:
        await pool.close()


def two_workers(ns: Namespace, users: int, events: int) -> tuple[list[str], list[SourceRecord]]:
    """A metric, ``users`` of :data:`PARTITION` and ``events`` of theirs on it."""
    create_metric(ns.database_url, "laps")
    at_home = users_at_home(ns.partitions, users)
    return at_home, partition_records(ns, at_home, events)


async def test_a_new_owner_and_a_zombie_never_fold_stale_state(namespace: Namespace) -> None:
    users, records = two_workers(namespace, 8, 60)
    a, b = (UserStateCache(1000, namespace.partitions) for _ in "ab")
    async with postgres_store(namespace) as store:
        await project_batch(store, records[:10], DiscardSink(), a)  # A owns the partition
        assert len(a) == len(users)
        await project_batch(store, records[10:20], DiscardSink(), a)
        assert a.hits == len(users)  # no one else wrote: A folded from what it held
        a.hits = 0
        await project_batch(store, records[20:40], DiscardSink(), b)  # a rebalance: B owns it
        # A, a zombie, still folds a batch of it: records B applied, then records nobody did.
        zombie = await project_batch(store, records[10:50], DiscardSink(), a)
        assert (zombie.skipped, zombie.applied) == (30, 10)
        assert a.hits == 0  # every state A held was written over by B: none may be used
        await project_batch(store, records[50:], DiscardSink(), b)  # B's are stale now too
        assert b.hits == 0
        await project_batch(store, records[50:], DiscardSink(), b)  # redelivered: skipped
    assert projected_totals(namespace.database_url) == await reference(namespace, records)


class RevokedWhileSaving:
    """A unit of work whose partition is revoked from its worker while the batch is saved."""

    def __init__(self, inner: ProjectionUnitOfWork, cache: UserStateCache, topic: str) -> None:
        self.inner = inner
        self.schema = inner.schema
        self.cache = cache
        self.topic = topic
        self.lock_checkpoints = inner.lock_checkpoints
        self.load = inner.load
        self.read = inner.read
        self.write = inner.write

    async def finish(
        self,
        batch: BatchResult,
        outcomes: Sequence[OutcomeRow],
        dead_letters: Sequence[DeadLetter],
        checkpoints: Any,
    ) -> None:
        self.cache.drop([(self.topic, PARTITION)])
        await self.inner.finish(batch, outcomes, dead_letters, checkpoints)


class RevokingStore:
    def __init__(self, inner: PostgresProjectionStore, cache: UserStateCache, topic: str) -> None:
        self.inner = inner
        self.cache = cache
        self.topic = topic

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[ProjectionUnitOfWork]:
        async with self.inner.unit_of_work() as uow:
            yield RevokedWhileSaving(uow, self.cache, self.topic)


async def test_a_partition_revoked_mid_batch_leaves_nothing_behind(namespace: Namespace) -> None:
    users, records = two_workers(namespace, 5, 40)
    a, b = (UserStateCache(1000, namespace.partitions) for _ in "ab")
    async with postgres_store(namespace) as store:
        await project_batch(store, records[:10], DiscardSink(), a)
        revoking = RevokingStore(store, a, namespace.commands_topic)
        await project_batch(revoking, records[10:20], DiscardSink(), a)  # committed, revoked
        assert a.hits == len(users)  # it had folded from the states A held
        a.hits = 0
        async with store.unit_of_work() as uow:
            locked = await uow.lock_checkpoints(namespace.commands_topic, [PARTITION])
            assert locked == {PARTITION: 19}  # what A itself committed, yet:
            batch = a.begin(uow.schema, namespace.commands_topic, locked)
            assert all(batch.get(("", u), PARTITION) is None for u in users)
        await project_batch(store, records[20:30], DiscardSink(), b)  # the new owner
        await project_batch(store, records[30:], DiscardSink(), a)  # and back to A
        assert a.hits == 0
    assert projected_totals(namespace.database_url) == await reference(namespace, records)
