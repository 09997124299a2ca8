"""Appending commands to the commands topic."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from aiokafka import AIOKafkaProducer

from ingest.contract import Command, encode, record_key


class CommandPublisher(Protocol):
    """Where the write path appends commands: the commands topic, or a list in tests."""

    async def publish(self, command: Command) -> None:
        """Append ``command``; return once the log holds it durably."""
        ...

    async def publish_many(self, commands: Sequence[Command]) -> None:
        """Append ``commands`` in order (per user), then wait until the log holds them all."""
        ...


class KafkaCommandPublisher:
    """An idempotent producer (acks=all): a retried send never writes a record twice."""

    def __init__(self, bootstrap_servers: str, topic: str, linger_ms: int = 0) -> None:
        self.topic = topic
        self._bootstrap_servers = bootstrap_servers
        self._linger_ms = linger_ms
        self._started: AIOKafkaProducer | None = None

    @property
    def _producer(self) -> AIOKafkaProducer:
        if self._started is None:
            raise RuntimeError("KafkaCommandPublisher.start() was not awaited")
        return self._started

    async def start(self) -> None:
        """Connect (aiokafka binds its producer to the running loop, so not earlier)."""
        self._started = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap_servers,
            enable_idempotence=True,
            acks="all",
            # Records still batch while a request is in flight; lingering only delays the first.
            linger_ms=self._linger_ms,
            request_timeout_ms=30_000,
        )
        await self._started.start()

    async def reachable(self) -> str | None:
        """``None`` when the brokers answer a metadata request, else the problem (readiness)."""
        if self._started is None:
            return "the Kafka producer has not started"
        await self._started.client.fetch_all_metadata()
        return None

    async def stop(self) -> None:
        """Flush and close the producer."""
        if self._started is not None:
            await self._started.stop()
            self._started = None

    async def publish(self, command: Command) -> None:
        """Append ``command`` under its user's key; return once every in-sync replica holds it."""
        await self._producer.send_and_wait(
            self.topic, encode(command), key=record_key(command.tenant, command.user_id)
        )

    async def publish_many(self, commands: Sequence[Command]) -> None:
        # send() enqueues in call order; the idempotent producer keeps that order per partition.
        """Append ``commands`` in order and wait until every one is held."""
        deliveries = [
            await self._producer.send(self.topic, encode(c), key=record_key(c.tenant, c.user_id))
            for c in commands
        ]
        await asyncio.gather(*deliveries)


class MemoryCommandPublisher:
    """Collects commands in a list: the in-memory twin for unit tests."""

    def __init__(self) -> None:
        self.published: list[Command] = []

    async def publish(self, command: Command) -> None:
        """Keep ``command``."""
        self.published.append(command)

    async def publish_many(self, commands: Sequence[Command]) -> None:
        """Keep ``commands`` in order."""
        self.published.extend(commands)
