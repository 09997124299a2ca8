"""How far the projection is behind the commands topic, seen from outside the processor (for
``laurel status``): each partition's high watermark from the brokers against the active
projection's checkpoint in PostgreSQL."""

from __future__ import annotations

import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition

from processors.replay import partition_ids
from projections.store.projection_schemas import PartitionLag, partition_lags


async def topic_lags(bootstrap_servers: str, database_url: str, topic: str) -> list[PartitionLag]:
    """Every partition of ``topic`` with its lag (none when the topic does not exist yet)."""
    partitions = await partition_ids(bootstrap_servers, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
    finally:
        await consumer.stop()
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        return await partition_lags(conn, topic, {tp.partition: o for tp, o in ends.items()})
