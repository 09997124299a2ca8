"""Where a synchronous event's time goes between Kafka and the processor's answer, in one run.

Start the stack first (``make up``), then ``make bench-sync``. One command at a time, as a
lone synchronous request on an idle stream sends it (a pause after each), is written straight
to the commands topic for a scratch tenant configured as ``bench.processor`` configures it
(a daily streak, a points trigger, two leaderboards). For each it times, from the send:

* the broker's acknowledgement (``acks=all``, idempotent: the api's producer);
* its receipt by a plain aiokafka consumer of the topic (the baseline: how soon any consumer
  can have it);
* the processor's ``NOTIFY`` of its outcome (what the api waits for), on a ``LISTEN``
  connection;

and it reads the processor's batch durations from its ``/metrics`` before and after. What is
left of the ``NOTIFY`` once the batch and the consumer's receipt are taken off is the
processor's hand-over (Faust's consumer thread, the stream, the folding task's queue) and the
notification's delivery. Run ``make bench`` for the same path through HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import psycopg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench.processor import configure
from ingest.contract import RecordMetricEvent, UserPatch, encode, record_key
from ingest.ids import new_command_id
from laurel.local import LocalStack
from laurel.settings import load_settings
from projections.store.decided import OUTCOMES_CHANNEL


def batch_totals(metrics_url: str) -> tuple[float, float, float]:
    """The processor's batch count, their seconds and their records, from its ``/metrics``."""
    found = {"count": 0.0, "sum": 0.0, "records": 0.0}
    for line in httpx.get(metrics_url, timeout=10).text.splitlines():
        name, _, value = line.partition(" ")
        if name == "laurel_processor_batch_duration_seconds_count":
            found["count"] = float(value)
        elif name == "laurel_processor_batch_duration_seconds_sum":
            found["sum"] = float(value)
        elif name == "laurel_processor_batch_records_sum":
            found["records"] = float(value)
    return found["count"], found["sum"], found["records"]


class Arrivals:
    """When a plain consumer of the topic received each record value."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self.consumer = consumer
        self.at: dict[bytes, float] = {}

    async def run(self) -> None:
        async for message in self.consumer:
            if message.value is not None:
                self.at[message.value] = time.perf_counter()

    async def of(self, value: bytes, timeout_s: float = 5) -> float:
        deadline = time.perf_counter() + timeout_s
        while value not in self.at:
            if time.perf_counter() > deadline:
                raise RuntimeError("the plain consumer did not receive the record")
            await asyncio.sleep(0.0005)
        return self.at.pop(value)


async def told(notes: AsyncIterator[psycopg.Notify], command_id: uuid.UUID) -> float:
    """When a notification of ``command_id``'s outcome arrived."""
    wanted = str(command_id)
    async for note in notes:
        if wanted in note.payload:
            return time.perf_counter()
    raise RuntimeError("the notifications ended")


def p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--warm-up", type=int, default=50, help="events not counted")
    parser.add_argument("--pause-ms", type=float, default=10, help="after each event")
    args = parser.parse_args()
    settings = load_settings()
    stack = LocalStack(settings)
    database_url = stack.database_url()
    metrics_url = stack.processors[0].ops_url + "/metrics"
    tenant = f"bench-sync-{uuid.uuid4().hex[:8]}"
    configure(database_url, tenant, leaderboards=True)
    topic = settings.commands_topic

    listener = await psycopg.AsyncConnection.connect(database_url, autocommit=True)
    await listener.execute(f"LISTEN {OUTCOMES_CHANNEL}")
    notes = listener.notifies()
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers, acks="all", enable_idempotence=True
    )
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers)
    await producer.start()
    await consumer.start()
    partitions = [TopicPartition(topic, n) for n in range(settings.partitions)]
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)
    arrivals = Arrivals(consumer)
    receiving = asyncio.create_task(arrivals.run())
    acked: list[float] = []
    received: list[float] = []
    notified: list[float] = []
    before = after = batch_totals(metrics_url)
    try:
        for i in range(args.warm_up + args.events):
            if i == args.warm_up:
                before = batch_totals(metrics_url)
            command = RecordMetricEvent(
                id=new_command_id(),
                tenant=tenant,
                user_id=f"user-{i % args.users}",
                received_at=datetime.now(UTC),
                metric_key="lessons",
                value=1.0,
                attributes={},
                user=UserPatch(),
            )
            value = encode(command)
            start = time.perf_counter()
            sent = await producer.send(topic, value, key=record_key(tenant, command.user_id))
            await sent
            ack = time.perf_counter()
            async with asyncio.timeout(30):  # the processor must be running
                done = await told(notes, command.id)
            receipt = await arrivals.of(value)
            if i >= args.warm_up:
                acked.append(ack - start)
                received.append(receipt - start)
                notified.append(done - start)
            await asyncio.sleep(args.pause_ms / 1000)
        after = batch_totals(metrics_url)
    finally:
        receiving.cancel()
        await consumer.stop()
        await producer.stop()
        await listener.close()

    batches, seconds, records = (a - b for a, b in zip(after, before, strict=True))
    print(
        f"synchronous path, {args.events:,} events one at a time ({args.pause_ms:g} ms apart), "
        f"{args.users} users, two leaderboards; ms from the send, p50 / p90 / mean"
    )
    for name, values in (
        ("Kafka acknowledges the record", acked),
        ("baseline: a plain aiokafka consumer has it", received),
        ("the processor's NOTIFY of its outcome", notified),
    ):
        print(
            f"{name:<48} {p(values, 50):6.2f} / {p(values, 90):6.2f} / "
            f"{statistics.mean(values) * 1000:6.2f}"
        )
    batch_ms = seconds / batches * 1000
    print(
        f"{'the processor batch (mean, its /metrics)':<48} {batch_ms:6.2f} ms "
        f"({batches:,.0f} batches, {records / batches:.2f} records each)"
    )
    left = (statistics.mean(notified) - statistics.mean(received)) * 1000 - batch_ms
    print(f"{'left: hand-over to the batch, notification (mean)':<48} {left:6.2f} ms")


if __name__ == "__main__":
    asyncio.run(main())
