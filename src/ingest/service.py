"""The write path shared by the ingest routes: validate, append, and (optionally) wait."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass

from ingest.clock import Clock
from ingest.contract import Command
from ingest.publisher import CommandPublisher
from ingest.waiter import OutcomeWaiter
from projections.store.config import CachedConfig, ConfigStore
from projections.store.documents import DocumentStore
from projections.store.reads import ProjectionReader, StoredOutcome


@dataclass(frozen=True)
class Ingest:
    """The write path the routes share: check against the current configuration, append, and wait
    for the outcome when asked."""

    publisher: CommandPublisher
    waiter: OutcomeWaiter
    config: ConfigStore
    """Configuration tables, for the admin routes."""
    documents: DocumentStore
    """Configuration documents (achievements, points, leaderboards), for the admin routes."""
    current_config: CachedConfig
    """The current configuration, for checking commands before they are published."""
    reader: ProjectionReader
    clock: Clock
    timeout_s: float
    environment: str = "Production"

    async def submit(self, command: Command, *, wait: bool = True) -> StoredOutcome | None:
        """Append ``command``; with ``wait``, return its outcome or ``None`` on timeout."""
        if not wait:
            await self.publisher.publish(command)
            return None
        async with self.waiter.expecting(command.tenant, command.id) as awaiter:
            await self.publisher.publish(command)
            return await awaiter.result(self.timeout_s)

    async def submit_many(self, commands: Sequence[Command]) -> list[StoredOutcome | None]:
        """Append ``commands`` together and wait for their outcomes (``None`` where one did not
        arrive within the timeout), in the order given."""
        async with AsyncExitStack() as stack:
            awaiters = [
                await stack.enter_async_context(self.waiter.expecting(c.tenant, c.id))
                for c in commands
            ]
            await self.publisher.publish_many(commands)
            return list(await asyncio.gather(*(a.result(self.timeout_s) for a in awaiters)))
