"""Direct Kafka access for tests: producing raw records and reading a topic to its end."""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from processors.replay import partition_ids
from projections.store.ports import SourceRecord


async def produce(
    bootstrap: str,
    topic: str,
    records: Sequence[tuple[bytes | None, bytes | None]],
    partition: int | None = None,
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        sent = [
            await producer.send(topic, value, key=key, partition=partition)
            for key, value in records
        ]
        for delivery in sent:
            await delivery
    finally:
        await producer.stop()


async def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """Each partition of ``topic``'s end: the offset its next record will get."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in sorted(await partition_ids(bootstrap, topic))]
        return {tp.partition: end for tp, end in (await consumer.end_offsets(tps)).items()}
    finally:
        await consumer.stop()


async def read_all(
    bootstrap: str, topic: str
) -> list[tuple[SourceRecord, list[tuple[str, bytes]]]]:
    """Every record of ``topic`` from the beginning to the current end, with headers."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = await partition_ids(bootstrap, topic)
        if not partitions:
            return []
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        out: list[tuple[SourceRecord, list[tuple[str, bytes]]]] = []
        remaining = {tp for tp in tps if end[tp] > 0}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, messages in batch.items():
                for m in messages:
                    out.append(
                        (
                            SourceRecord(m.topic, m.partition, m.offset, m.key, m.value),
                            list(m.headers),
                        )
                    )
                    if m.offset + 1 >= end[tp]:
                        remaining.discard(tp)
        return sorted(out, key=lambda r: (r[0].partition, r[0].offset))
    finally:
        await consumer.stop()
