"""The scheduler: time-driven commands onto the users' partitions.

Each round asks the projection which users have something due (a streak period that may end
unmet, a freeze or a time trigger to pay, a lifecycle email, a ``points.changed`` window to close)
and appends a ``user.tick`` for each. A tick's id is derived from the
user and the due instant, so a tick sent twice (by two workers that both believed they led, or
again before the first was applied) is applied once. Reads never wait for ticks: they advance
the stored state themselves; ticks make the stored state and the outbox timely.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Protocol

from ingest.clock import Clock
from ingest.publisher import CommandPublisher
from projections.core.commands import Tick

log = logging.getLogger(__name__)

_TICKS = uuid.uuid5(uuid.NAMESPACE_URL, "urn:laurel:streak-tick")  # namespace for tick ids


class DueStreaks(Protocol):
    """Where the scheduler finds the users whose streak or rewards are due."""

    async def due_streaks(self, now: datetime, limit: int) -> list[tuple[str, str, datetime]]:
        """Up to ``limit`` (tenant, user id, due instant) whose streak or rewards are due."""
        ...


def tick_id(tenant: str, user_id: str, due: datetime) -> uuid.UUID:
    """The same tick for the same user and due instant, whoever sends it."""
    return uuid.uuid5(_TICKS, f"{tenant}\x00{user_id}\x00{due.isoformat()}")


class StreakScheduler:
    """Sends a ``user.tick`` for every user whose next transition is due, on the user's own
    partition."""

    def __init__(
        self, due: DueStreaks, publisher: CommandPublisher, clock: Clock, batch: int = 1000
    ) -> None:
        self.due = due
        self.publisher = publisher
        self.clock = clock
        self.batch = batch

    async def run_once(self) -> int:
        """Send a tick for every streak due now (up to ``batch``); the number sent."""
        now = self.clock()
        due = await self.due.due_streaks(now, self.batch)
        ticks = [Tick(tick_id(t, u, at), t, u, max(at, now)) for t, u, at in due]
        if ticks:
            await self.publisher.publish_many(ticks)
            log.info("scheduler: %d streak ticks sent", len(ticks))
        return len(ticks)
