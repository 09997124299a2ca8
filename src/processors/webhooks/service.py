"""The delivery loop of a ``laurel webhooks`` process: claim due deliveries, send each on its
own task (a slow receiver holds up only its own deliveries), record what happened.

Woken by ``NOTIFY laurel_webhooks`` when the processor commits messages, and otherwise when
the next retry is due (at most ``poll_s`` apart, so a missed notification costs only that).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from processors.webhooks.metrics import DeliveryMetrics
from processors.webhooks.sender import send
from projections.store.connections import DATABASE_UNAVAILABLE
from projections.store.webhooks import Claimed, WebhookStore

log = logging.getLogger("laurel.webhooks")

PRUNE_EVERY_S = 3600.0
BACKLOG_EVERY_S = 5.0
UNAVAILABLE_FIRST_S = 0.5


@dataclass(frozen=True)
class DeliveryPolicy:
    """How deliveries are made: retry delays, the receiver's time limit, when a failing
    endpoint is disabled, how long the log is kept, how many are sent at once, and the longest
    wait between tries while the database is unavailable."""

    schedule: tuple[float, ...]
    timeout_s: float = 30.0
    disable_after: timedelta = timedelta(days=5)
    retention: timedelta = timedelta(days=30)
    concurrency: int = 32
    poll_s: float = 1.0
    unavailable_max_s: float = 30.0

    @property
    def lease_s(self) -> float:
        """How long a claim is held: the time limit and a margin to record the answer. A
        process that dies mid-delivery leaves it to another after this."""
        return self.timeout_s + 5.0


class WebhookDeliverer:
    """Sends the deliveries :class:`WebhookStore` leases to it."""

    def __init__(
        self,
        store: WebhookStore,
        client: httpx.AsyncClient,
        policy: DeliveryPolicy,
        metrics: DeliveryMetrics | None = None,
    ) -> None:
        self.store = store
        self.client = client
        self.policy = policy
        self.metrics = metrics or DeliveryMetrics()
        self.wake = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._claim_at_least = max(1, policy.concurrency // 4)
        self._pruned = self._counted = 0.0  # monotonic times of the last prune and count

    async def on_notification(self, _: str = "") -> None:
        """New deliveries are due (``NOTIFY laurel_webhooks``)."""
        self.wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set, then let the deliveries in flight finish.

        While PostgreSQL cannot be reached (a restart, a failover), the loop waits and tries
        again, backing off up to ``policy.unavailable_max_s``: the process outlives it, and
        what fell due meanwhile is claimed once it is back.
        """
        delay = UNAVAILABLE_FIRST_S
        try:
            while not stop.is_set():
                try:
                    await self._round(stop)
                except DATABASE_UNAVAILABLE as exc:
                    log.warning(
                        "the database is unavailable (%r); trying again in %.1fs", exc, delay
                    )
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), delay)
                    delay = min(delay * 2, self.policy.unavailable_max_s)
                else:
                    delay = UNAVAILABLE_FIRST_S
        finally:
            if self._in_flight:
                await asyncio.wait(self._in_flight, timeout=self.policy.timeout_s)

    async def _round(self, stop: asyncio.Event) -> None:
        """Prune and count when they are due, claim, and wait for work if nothing was due."""
        if time.monotonic() - self._pruned > PRUNE_EVERY_S:
            removed = await self.store.prune(self.policy.retention)
            self._pruned = time.monotonic()
            if removed:
                log.info("pruned %d webhook messages past retention", removed)
        if time.monotonic() - self._counted > BACKLOG_EVERY_S:
            self.metrics.waiting(*await self.store.backlog())
            self._counted = time.monotonic()
        self.wake.clear()  # before the claim: a later notification is not lost
        if not await self.step():
            await self._idle(stop)

    async def step(self) -> int:
        """Claim as many due deliveries as there is room for and start sending them; returns
        how many were started."""
        room = self.policy.concurrency - len(self._in_flight)
        if room < self._claim_at_least:  # a claim scans the queue: claim several at a time
            return 0
        claimed = await self.store.claim(room, self.policy.lease_s)
        for delivery in claimed:
            task = asyncio.create_task(self._deliver(delivery))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
        return len(claimed)

    async def _idle(self, stop: asyncio.Event) -> None:
        """Wait for a notification, a delivery finishing (its user's next message may be due),
        the next retry or ``stop``, whichever is first, and at most ``poll_s``."""
        timeout = self.policy.poll_s
        if not self._in_flight:  # else each delivery's end wakes the loop
            due_in = await self.store.next_due_in()
            timeout = timeout if due_in is None else min(due_in, timeout)
        waiters = [asyncio.ensure_future(self.wake.wait()), asyncio.ensure_future(stop.wait())]
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiter

    async def _deliver(self, claimed: Claimed) -> None:
        try:
            attempt = await send(self.client, claimed, self.policy.schedule, datetime.now(UTC))
            await self.store.record(claimed, attempt, self.policy.disable_after)
        except Exception:  # the lease runs out and another attempt follows
            log.exception(
                "recording delivery %s failed",
                claimed.message_id,
                extra={"message_id": str(claimed.message_id)},
            )
            return
        outcome = attempt.state
        self.metrics.attempted(attempt, claimed.attempts)
        if not attempt.delivered:
            log.info(
                "webhook %s to endpoint %s: %s (attempt %d, %s)",
                claimed.message_id,
                claimed.endpoint.id,
                attempt.error,
                claimed.attempts,
                outcome,
                extra={
                    "message_id": str(claimed.message_id),
                    "endpoint_id": str(claimed.endpoint.id),
                },
            )
        self.wake.set()  # a later message of the same user may be due now
