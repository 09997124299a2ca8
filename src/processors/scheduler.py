"""The scheduler: time-driven commands onto the users' partitions.

Each round asks the projection which users have something due (a streak period that may end
unmet, a freeze or a time trigger to pay, a lifecycle email, a ``points.changed`` window to close)
and appends a ``user.tick`` for each. A tick's id is derived from the
user and the due instant, so a tick sent twice (by two workers that both believed they led, or
again before the first was applied) is applied once. Reads never wait for ticks: they advance
the stored state themselves; ticks make the stored state and the outbox timely.

A user stays due until the processor has applied their tick, so while the processor lags
every round would find the same users again. The scheduler remembers the ticks it sent and
sends one again only after ``resend_after_s``: a lagging processor is not handed a copy of
each due user's tick per round on top of its backlog. Forgetting is always safe (a copy is
applied once), so the memory is per process and bounded by what one window sends.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Round:
    """What one scheduler round did."""

    due: int
    """Users found due (at most a batch): the backlog, whether this round sent them a tick
    or not."""
    sent: int
    """Ticks sent: the due users not sent one in the resend window."""


class StreakScheduler:
    """Sends a ``user.tick`` for every user whose next transition is due, on the user's own
    partition."""

    def __init__(
        self,
        due: DueStreaks,
        publisher: CommandPublisher,
        clock: Clock,
        batch: int = 1000,
        resend_after_s: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.due = due
        self.publisher = publisher
        self.clock = clock
        self.batch = batch
        self.resend_after_s = resend_after_s
        self.monotonic = monotonic  # the real time that passes, whatever ``clock`` says
        self._sent: dict[uuid.UUID, float] = {}
        """Ticks sent in the last ``resend_after_s``, by id: when each was sent."""

    async def run_once(self) -> Round:
        """Send a tick for every streak due now (up to ``batch``) that was not sent in the
        last ``resend_after_s``."""
        now = self.clock()
        due = await self.due.due_streaks(now, self.batch)
        sent_at = self.monotonic()
        horizon = sent_at - self.resend_after_s
        self._sent = {i: at for i, at in self._sent.items() if at > horizon}
        ticks = [
            Tick(i, t, u, max(at, now))
            for t, u, at in due
            if (i := tick_id(t, u, at)) not in self._sent
        ]
        if ticks:
            await self.publisher.publish_many(ticks)
            self._sent.update((tick.id, sent_at) for tick in ticks)
            log.info("scheduler: %d streak ticks sent", len(ticks))
        return Round(due=len(due), sent=len(ticks))
