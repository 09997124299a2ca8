"""Creating the commands and dead-letter topics (the broker never auto-creates topics), with
as many replicas as the cluster allows (at most 3) unless told otherwise."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from laurel.settings import Settings

log = logging.getLogger(__name__)

INFINITE = "-1"


def min_insync(replicas: int) -> int:
    """The ``min.insync.replicas`` a topic with ``replicas`` replicas gets by default: 2 of 3
    (an acknowledged write survives the loss of a broker, and writes go on with one down), 1
    of fewer."""
    return 2 if replicas >= 3 else 1


async def ensure_topics(
    bootstrap_servers: str,
    commands_topic: str,
    dead_letter_topic: str,
    partitions: int,
    timeout_s: float = 60.0,
    replicas: int | None = None,
    min_insync_replicas: int | None = None,
) -> list[str]:
    """Create both topics with infinite retention unless they exist; return those created.

    The commands topic is the system of record, so nothing is ever deleted from it. An existing
    topic with another partition count is left alone (the count only grows, by an operator).
    ``replicas`` defaults to the number of brokers, at most 3, and ``min_insync_replicas`` to
    :func:`min_insync` of that.
    """
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            if replicas is None:
                replicas = min(3, len((await admin.describe_cluster())["brokers"]))
            configs = {
                "retention.ms": INFINITE,
                "retention.bytes": INFINITE,
                "min.insync.replicas": str(min_insync_replicas or min_insync(replicas)),
            }
            wanted = [
                NewTopic(name, num_partitions=n, replication_factor=replicas, topic_configs=configs)
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


async def ensure_configured_topics(settings: Settings) -> list[str]:
    """:func:`ensure_topics` with the names, partitions and replication ``settings`` give."""
    return await ensure_topics(
        settings.bootstrap_servers,
        settings.commands_topic,
        settings.dead_letter_topic,
        settings.partitions,
        replicas=settings.topic_replicas,
        min_insync_replicas=settings.topic_min_insync_replicas,
    )
