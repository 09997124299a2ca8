"""The Faust application: one agent folding batches of the commands topic into Postgres.

The agent's stream puts each event in a bounded queue; a folding task takes what has
accumulated there as one batch (natural batching: no fixed window, so an idle stream costs no
wait and a busy one gets larger batches while a transaction is in flight).

Faust acknowledges an event when the stream moves on to the next one, long before its batch is
in Postgres. To keep offsets from being committed past what Postgres holds, the agent takes one
extra reference on each message as it enters the queue and gives it back only after the
transaction committed; a batch that never committed therefore never reaches the final ack, and
Kafka redelivers it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence, Set
from contextlib import asynccontextmanager
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any, TypeVar

import faust
import psycopg
from faust.types import TP, EventT
from psycopg_pool import AsyncConnectionPool

from ingest.clock import Clock
from ingest.publisher import KafkaCommandPublisher
from processors.deadletters import KafkaDeadLetterSink
from processors.metrics import ProcessorMetrics
from processors.projector import (
    BatchReport,
    DeadLetterSink,
    dead_letter_records,
    project_batch,
)
from processors.scheduler import StreakScheduler
from processors.user_cache import UserStateCache
from projections.store.connections import connection_pool
from projections.store.ports import ProjectionStore, SourceRecord
from projections.store.postgres import PostgresProjectionStore
from projections.store.projection_schemas import partition_lags
from projections.store.reads import ProjectionReader

log = logging.getLogger("laurel.processor")
T = TypeVar("T")


@dataclass(frozen=True)
class ProcessorOptions:
    """What the processor needs to know; the composition root fills it from the settings."""

    bootstrap_servers: str
    database_url: str
    commands_topic: str
    dead_letter_topic: str
    group: str
    partitions: int
    data_dir: Path
    """Where Faust keeps its files (it creates the directory, not its parents)."""
    clock: Clock
    """Now, for the scheduler."""
    batch_max: int = 500
    """The most records folded in one transaction."""
    cache_users: int = 100_000
    """The most user states kept in memory (:mod:`processors.user_cache`); 0: none."""
    session_timeout_s: float = 10.0
    retry_max_s: float = 30.0
    scheduler_interval_s: float = 10.0
    scheduler_resend_after_s: float = 60.0


@asynccontextmanager
async def _pool(url: str) -> AsyncIterator[AsyncConnectionPool[Any]]:
    pool = connection_pool(url, max_size=2)
    await pool.open(wait=True, timeout=60)
    try:
        yield pool
    finally:
        await pool.close()


async def take_accumulated(queue: asyncio.Queue[T], most: int) -> list[T]:
    """Wait for one item, then take, without waiting, what else has accumulated (up to ``most``).

    Natural batching, as in group commit: an idle stream gets each event folded at once, and
    while a batch's transaction is in flight the next batch grows by itself.
    """
    items = [await queue.get()]
    while len(items) < most and not queue.empty():
        items.append(queue.get_nowait())
    return items


async def project_until_committed(
    store: ProjectionStore,
    records: Sequence[SourceRecord],
    sink: DeadLetterSink,
    retry_max_s: float,
    cache: UserStateCache | None = None,
    metrics: ProcessorMetrics | None = None,
) -> BatchReport:
    """Project ``records``, retrying with backoff on any failure: a record is never skipped.

    Decoding and rule errors never raise (they become dead letters). When the database refuses
    the batch's *data* (SQLSTATE classes 22 and 23: a value it cannot store, a violated
    constraint), retrying cannot help, so the batch is split in halves until the refused record
    is alone, and that record is dead-lettered. Anything else (the database or the broker being
    unavailable, or a bug) is retried with backoff and never skipped.
    """
    delay = 0.1
    while True:
        try:
            return await project_batch(store, records, sink, cache)
        except (psycopg.DataError, psycopg.IntegrityError) as refused:
            if len(records) == 1:
                record = records[0]
                log.error(
                    "dead-lettering a record the database refuses: %s",
                    refused,
                    extra={"partition": record.partition, "offset": record.offset},
                )
                reason = f"refused by the database: {type(refused).__name__}: {refused}"
                return await dead_letter_records(store, records, reason, sink)
            middle = len(records) // 2
            first, second = [
                await project_until_committed(store, half, sink, retry_max_s, cache, metrics)
                for half in (records[:middle], records[middle:])
            ]
            return BatchReport(
                *(a + b for a, b in zip(astuple(first), astuple(second), strict=True))
            )
        except Exception:
            if metrics is not None:
                metrics.failures.inc()
            log.exception(
                "batch of %d records failed; retrying in %.1fs (nothing is acknowledged)",
                len(records),
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, retry_max_s)


class WorkerProbe:
    """What the operator's endpoints ask a running worker: whether it has joined its consumer
    group, and each assigned partition's lag (the broker's high watermark against the
    projection's checkpoint, not the group's committed offset)."""

    def __init__(self, app: faust.App, topic: str, metrics: ProcessorMetrics) -> None:
        self.app = app
        self.topic = topic
        self.metrics = metrics
        self.joined = False

    async def has_joined(self) -> str | None:
        """Readiness: ``None`` once the worker has joined its group (had an assignment)."""
        return None if self.joined else "the processor has not joined its consumer group yet"

    async def refresh_lags(self, pool: AsyncConnectionPool[Any]) -> None:
        """Set the lag gauges for the partitions this worker holds now."""
        if not self.joined:
            return
        assigned = [tp for tp in self.app.consumer.assignment() if tp.topic == self.topic]
        high = await self.app.consumer.highwaters(*assigned) if assigned else {}
        async with pool.connection() as conn:
            lags = await partition_lags(
                conn, self.topic, {tp.partition: offset for tp, offset in high.items()}
            )
        self.metrics.lags(lags)


def build_app(  # noqa: C901 (the agent and timers are closures, counted here)
    options: ProcessorOptions, metrics: ProcessorMetrics
) -> tuple[faust.App, WorkerProbe]:
    """The Faust app with its projection agent, and the probe the operator's endpoints read;
    nothing connects until the worker starts."""
    app = faust.App(
        options.group,
        broker=f"kafka://{options.bootstrap_servers}",
        store="memory://",
        web_enabled=False,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        topic_partitions=options.partitions,
        broker_session_timeout=options.session_timeout_s,
        broker_heartbeat_interval=max(options.session_timeout_s / 5, 0.5),
        broker_commit_interval=1.0,
        producer_acks=-1,
        stream_wait_empty=False,
        datadir=options.data_dir,
    )
    topic = app.topic(
        options.commands_topic,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=options.partitions,
    )

    probe = WorkerProbe(app, options.commands_topic, metrics)

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def joined(_: object, assigned: Set[TP], *, signal: object, **__: object) -> None:
        probe.joined = True

    cache = UserStateCache(options.cache_users, options.partitions) if options.cache_users else None
    if cache is not None:
        # mode types receivers as (sender, *Any): the revoked set is its first argument
        @app.on_partitions_revoked.connect  # type: ignore[arg-type]
        async def forget(_: object, revoked: Set[TP], *, signal: object, **__: object) -> None:
            """A revoked partition's users are this worker's no more."""
            cache.drop((tp.topic, tp.partition) for tp in revoked)

    @app.agent(topic, concurrency=1)
    async def project(stream: faust.StreamT[bytes]) -> None:
        async with _pool(options.database_url) as pool:
            store = PostgresProjectionStore(pool)
            sink = KafkaDeadLetterSink(app.producer.send_and_wait, options.dead_letter_topic)
            accumulated: asyncio.Queue[EventT[bytes]] = asyncio.Queue(options.batch_max)

            async def fold_what_accumulated() -> None:
                while True:
                    events = await take_accumulated(accumulated, options.batch_max)
                    messages = [event.message for event in events]
                    records = [
                        SourceRecord(m.topic, m.partition, m.offset, m.key, m.value)
                        for m in messages
                    ]
                    started = time.perf_counter()
                    report = await project_until_committed(
                        store, records, sink, options.retry_max_s, cache, metrics
                    )
                    metrics.batch(report, time.perf_counter() - started, time.time())
                    for message in messages:
                        message.ack(app.consumer)
                    log.debug("batch %s", report)

            folding = asyncio.create_task(fold_what_accumulated())
            try:
                async for event in stream.events():
                    event.message.incref()  # held until its batch is committed (module doc)
                    await accumulated.put(event)  # waits while a full batch is in flight
                    if folding.done():
                        folding.result()  # re-raise what stopped it: the agent must stop too
            finally:
                folding.cancel()

    if options.scheduler_interval_s > 0:

        @app.task  # type: ignore[untyped-decorator]
        async def schedule() -> None:
            """Every interval, the leader sends the streak ticks that are due."""
            publisher = KafkaCommandPublisher(options.bootstrap_servers, options.commands_topic)
            async with _pool(options.database_url) as pool:
                await publisher.start()
                reader = ProjectionReader(pool)
                scheduler = StreakScheduler(
                    reader,
                    publisher,
                    options.clock,
                    resend_after_s=options.scheduler_resend_after_s,
                )
                try:
                    while True:
                        await asyncio.sleep(options.scheduler_interval_s)
                        if not app.is_leader():
                            continue
                        try:
                            # a replay may have switched the active schema since the last
                            # round: read which one it is afresh (one small query a round)
                            await reader.forget_schema()
                            done = await scheduler.run_once()
                            metrics.scheduled(done.due, done.sent)
                        except Exception:
                            metrics.scheduler_rounds.labels("failed").inc()
                            log.exception("scheduler round failed; trying again next interval")
                finally:
                    await publisher.stop()

    return app, probe
