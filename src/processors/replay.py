"""Rebuilding every projection from the start of the commands topic, then switching reads.

1. Create a fresh projection schema (``laurel_p<N+1>``) with the projection migrations.
2. Fold the whole topic into it with the same projector the live processor runs, reading with a
   plain aiokafka consumer (no consumer group), reporting progress.
3. Switch: lock the active-schema pointer ``FOR UPDATE``. Every processor batch holds it
   ``FOR SHARE``, so this waits for the batch in flight and holds the next one back. Fold the
   tail up to the live schema's checkpoints, compare the two schemas table by table, and move the
   pointer in the same transaction (with a NOTIFY so the API re-reads it). The processor's next
   batch lands in the new schema, whose checkpoints equal the old ones: nothing is skipped or
   applied twice. If the schemas differ, nothing switches and the differences are reported.

Dead letters found during a replay are recorded in the new schema but not published again: the
live processor already published them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from processors.projector import project_batch
from projections.store.connections import connection_pool
from projections.store.ports import DeadLetter, SourceRecord
from projections.store.postgres import PostgresProjectionStore
from projections.store.projection_schemas import (
    checkpoints,
    create_next_schema,
    differences,
    lock_active,
    switch_active,
)


@dataclass(frozen=True)
class Progress:
    """How far a replay got: records applied, the rate, the records left and the time they will
    take."""

    applied: int
    events_per_s: float
    lag: int
    eta_s: float | None


@dataclass(frozen=True)
class ReplayResult:
    """What a replay built (and whether it switched reads to it), in how long, and the rows that
    differed."""

    schema: str
    previous: str
    records: int
    seconds: float
    switched: bool
    differences: dict[str, int]


class _RecordOnly:
    async def send(self, letters: Sequence[DeadLetter]) -> None:
        return None


class ReplayFailed(Exception):
    """The rebuilt projection differs from the live one; nothing was switched."""


async def partition_ids(bootstrap_servers: str, topic: str) -> list[int]:
    """The partitions of ``topic`` (empty when it does not exist)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(
        p["partition"] for t in described if t.get("error_code", 0) == 0 for p in t["partitions"]
    )


class Replay:
    """Rebuilds every projection from the start of the topic into a fresh schema (see the module's
    docstring)."""

    def __init__(
        self,
        database_url: str,
        bootstrap_servers: str,
        topic: str,
        batch_max: int = 5000,
        on_progress: Callable[[Progress], None] = lambda p: None,
    ) -> None:
        self.database_url = database_url
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.batch_max = batch_max
        self.on_progress = on_progress

    async def run(self, switch: bool = True) -> ReplayResult:
        """Fold the whole topic into a new schema, then (with ``switch``) verify it and switch reads
        and writes to it; raise :class:`ReplayFailed` when the schemas differ."""
        started = time.monotonic()
        schema, live = create_next_schema(self.database_url)
        pool = connection_pool(self.database_url, min_size=2, max_size=3)
        await pool.open(wait=True)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            enable_auto_commit=False,
            max_partition_fetch_bytes=8 * 1024 * 1024,
        )
        await consumer.start()
        try:
            store = PostgresProjectionStore(pool, schema=schema, announce=False)
            partitions = await partition_ids(self.bootstrap_servers, self.topic)
            if not partitions:
                raise ReplayFailed(f"topic {self.topic} does not exist or has no partitions")
            tps = [TopicPartition(self.topic, p) for p in partitions]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            # Follow the live processor (never overtake it) until the tail is short, so the
            # switch below holds the processor back only briefly.
            applied = 0
            for _ in range(10):
                async with pool.connection() as conn:
                    targets = await self._live_checkpoints(conn, live, tps)
                positions = {tp: await consumer.position(tp) for tp in tps}
                if sum(targets[tp] - positions[tp] for tp in tps) <= self.batch_max:
                    break
                applied = await self._fold_until(consumer, store, targets, applied)
            if not switch:
                return ReplayResult(schema, live, applied, time.monotonic() - started, False, {})
            async with pool.connection() as conn, conn.transaction():
                if await lock_active(conn) != live:
                    raise ReplayFailed("another replay switched the projection meanwhile")
                targets = await self._live_checkpoints(conn, live, tps)
                applied = await self._fold_until(consumer, store, targets, applied)
                differing = await differences(conn, live, schema)
                if any(differing.values()):
                    raise ReplayFailed(
                        "rebuilt projection differs from the live one (rows differing per "
                        f"table: {differing}); reads stay on {live}, {schema} is kept for "
                        "inspection"
                    )
                await switch_active(conn, schema)
            return ReplayResult(schema, live, applied, time.monotonic() - started, True, differing)
        finally:
            await consumer.stop()
            await pool.close()

    async def _live_checkpoints(
        self, conn: psycopg.AsyncConnection[Any], live: str, tps: Sequence[TopicPartition]
    ) -> dict[TopicPartition, int]:
        done = await checkpoints(conn, live, self.topic)
        return {tp: done.get(tp.partition, -1) + 1 for tp in tps}

    async def _fold_until(
        self,
        consumer: AIOKafkaConsumer,
        store: PostgresProjectionStore,
        targets: dict[TopicPartition, int],
        applied: int,
    ) -> int:
        """Fold each partition up to (excluding) its target offset."""
        started, last_report = time.monotonic(), 0.0
        base = applied
        while True:
            positions = {tp: await consumer.position(tp) for tp in targets}
            pending = [tp for tp in targets if positions[tp] < targets[tp]]
            lag = sum(max(targets[tp] - positions[tp], 0) for tp in targets)
            now = time.monotonic()
            if now - last_report >= 1.0 or not pending:
                rate = (applied - base) / max(now - started, 1e-9)
                self.on_progress(Progress(applied, rate, lag, lag / rate if rate > 0 else None))
                last_report = now
            if not pending:
                return applied
            fetched = await consumer.getmany(*pending, timeout_ms=1000, max_records=self.batch_max)
            for tp, messages in fetched.items():
                records = [
                    SourceRecord(m.topic, m.partition, m.offset, m.key, m.value)
                    for m in messages
                    if m.offset < targets[tp]
                ]
                if records:
                    await project_batch(store, records, _RecordOnly())
                    applied += len(records)
                if messages and messages[-1].offset >= targets[tp]:
                    consumer.seek(tp, targets[tp])
