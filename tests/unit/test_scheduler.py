"""The scheduler: one tick per due user and due instant, sent again only after the resend
window while the user stays due (the processor has not applied the first)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from ingest.publisher import MemoryCommandPublisher
from processors.scheduler import Round, StreakScheduler, tick_id
from projections.core.commands import Tick
from tests.support.fakes import FailingPublisher

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
EARLIER = NOW - timedelta(hours=1)


class DueList:
    """Due users the test sets, as the projection would list them."""

    def __init__(self) -> None:
        self.due: list[tuple[str, str, datetime]] = []

    async def due_streaks(self, now: datetime, limit: int) -> list[tuple[str, str, datetime]]:
        return [d for d in self.due if d[2] <= now][:limit]


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _scheduler(
    due: DueList, publisher: MemoryCommandPublisher, monotonic: Monotonic
) -> StreakScheduler:
    return StreakScheduler(due, publisher, lambda: NOW, resend_after_s=60.0, monotonic=monotonic)


def _sent(publisher: MemoryCommandPublisher) -> list[tuple[str, datetime]]:
    return [(c.user_id, c.received_at) for c in publisher.published if isinstance(c, Tick)]


def test_a_user_still_due_is_sent_again_only_after_the_window() -> None:
    due, publisher, clock = DueList(), MemoryCommandPublisher(), Monotonic()
    scheduler = _scheduler(due, publisher, clock)
    due.due = [("", "ada", EARLIER), ("", "bob", NOW)]

    assert asyncio.run(scheduler.run_once()) == Round(due=2, sent=2)
    clock.now += 59.0  # the processor lags: both users are still due
    due.due.append(("", "cy", NOW))
    assert asyncio.run(scheduler.run_once()) == Round(due=3, sent=1)  # only the newly due
    clock.now += 2.0  # the first two were sent 61 s ago
    assert asyncio.run(scheduler.run_once()) == Round(due=3, sent=2)
    assert _sent(publisher) == [
        ("ada", NOW),  # never before now: the tick brings the user to the scheduler's instant
        ("bob", NOW),
        ("cy", NOW),
        ("ada", NOW),
        ("bob", NOW),
    ]
    ids = [c.id for c in publisher.published]
    assert ids[3:] == ids[:2]  # the copies are the same commands: applied once
    assert ids[0] == tick_id("", "ada", EARLIER)


def test_a_new_due_instant_is_a_new_tick() -> None:
    due, publisher, clock = DueList(), MemoryCommandPublisher(), Monotonic()
    scheduler = _scheduler(due, publisher, clock)
    due.due = [("", "ada", EARLIER)]
    asyncio.run(scheduler.run_once())
    due.due = [("", "ada", NOW)]  # the first was applied; the next transition is due already
    assert asyncio.run(scheduler.run_once()) == Round(due=1, sent=1)
    assert [c.id for c in publisher.published] == [
        tick_id("", "ada", EARLIER),
        tick_id("", "ada", NOW),
    ]


def test_a_tick_the_broker_refused_is_sent_next_round() -> None:
    due, clock = DueList(), Monotonic()
    due.due = [("", "ada", EARLIER)]
    failing = FailingPublisher(RuntimeError("broker down"))
    scheduler = _scheduler(due, failing, clock)
    with pytest.raises(RuntimeError, match="broker down"):
        asyncio.run(scheduler.run_once())
    working = MemoryCommandPublisher()
    scheduler.publisher = working
    assert asyncio.run(scheduler.run_once()) == Round(due=1, sent=1)
    assert _sent(working) == [("ada", NOW)]


def test_a_zero_window_sends_every_round() -> None:
    due, publisher, clock = DueList(), MemoryCommandPublisher(), Monotonic()
    scheduler = StreakScheduler(due, publisher, lambda: NOW, resend_after_s=0.0, monotonic=clock)
    due.due = [("", "ada", EARLIER)]
    for _ in range(3):
        assert asyncio.run(scheduler.run_once()) == Round(due=1, sent=1)
    assert len(publisher.published) == 3
