"""Creating the commands and dead-letter topics (the broker never auto-creates topics)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

log = logging.getLogger(__name__)

INFINITE = "-1"


async def ensure_topics(
    bootstrap_servers: str,
    commands_topic: str,
    dead_letter_topic: str,
    partitions: int,
    timeout_s: float = 60.0,
) -> list[str]:
    """Create both topics with infinite retention unless they exist; return those created.

    The commands topic is the system of record, so nothing is ever deleted from it. An existing
    topic with another partition count is left alone (the count only grows, by an operator).
    """
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            wanted = [
                NewTopic(
                    name,
                    num_partitions=n,
                    replication_factor=1,
                    topic_configs={"retention.ms": INFINITE, "retention.bytes": INFINITE},
                )
                for name, n in ((commands_topic, partitions), (dead_letter_topic, 1))
                if name not in existing
            ]
            if wanted:
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics(wanted)
            return [t.name for t in wanted]
        except KafkaError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            log.info("Kafka not ready for topic creation yet; retrying")
            await asyncio.sleep(0.5)
        finally:
            await admin.close()
