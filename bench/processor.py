"""The processor's batch step in-process (no Kafka), with and without leaderboards, in one run.

Start the stack first (``make up``; only its PostgreSQL is used), then
``python -m bench.processor``. Two scratch tenants get the same configuration — a metric with a
daily streak, and a points system paying per event — and one of them also two leaderboards (the
metric, and the points in daily runs). The same commands (events from 2,000 users over a few
days) are folded and written in batches of 500 with the projector the live processor runs, for
each case of :data:`CASES` in turn and then again in the other order: as the processor runs
it, without leaderboards, without the user-state cache (every state read from PostgreSQL),
with Python's default garbage-collector thresholds, with twenty more metrics, each with three
achievements, that the events do not name, and one record a batch (the first 1,000 events);
it prints events/s and CPU per event.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tests.support.config import add_document, create_metric, set_streak_settings

from ingest.contract import RecordMetricEvent, UserPatch, encode, record_key
from ingest.ids import new_command_id
from laurel.local import LocalStack
from laurel.settings import load_settings
from processors.collector import tuned_collector
from processors.projector import project_batch
from processors.user_cache import UserStateCache
from projections.core.streaks import StreakSettings
from projections.store.connections import connection_pool
from projections.store.ports import DeadLetter, SourceRecord
from projections.store.postgres import PostgresProjectionStore

BATCH = 500


class _NoDeadLetters:
    async def send(self, letters: Sequence[DeadLetter]) -> None:
        if letters:
            raise RuntimeError(f"unexpected dead letters: {letters[0].reason}")


def configure(database_url: str, tenant: str, leaderboards: bool, more_metrics: int = 0) -> None:
    """The bench's configuration; ``more_metrics`` adds metrics the events do not name, each
    with a ladder of three achievements (configuration the rules look through, not use)."""
    for n in range(more_metrics):
        other = create_metric(database_url, f"other-{n}", tenant)
        for value in (5, 10, 50):
            ladder: dict[str, object] = {
                "name": f"other {n} {value}",
                "key": f"other-{n}-{value}",
                "trigger": "metric",
                "status": "active",
                "metricId": str(other),
                "metricValue": value,
            }
            add_document(database_url, "achievement", ladder, "", tenant)
    metric_id = create_metric(database_url, "lessons", tenant)
    set_streak_settings(database_url, StreakSettings(metrics=(("lessons", 1.0),)), tenant)
    system = add_document(database_url, "points_system", {"name": "XP", "key": "xp"}, "", tenant)
    trigger = {
        "systemId": str(system),
        "type": "metric",
        "points": 10,
        "status": "active",
        "metricId": str(metric_id),
        "metricThreshold": 1,
        "userAttributes": [],
    }
    add_document(database_url, "points_trigger", trigger, str(system), tenant)
    if not leaderboards:
        return
    boards: list[dict[str, object]] = [
        {"key": "top", "rankBy": "metric", "metricId": str(metric_id), "maxParticipants": None},
        {
            "key": "daily-xp",
            "rankBy": "points",
            "pointsSystemId": str(system),
            "runUnit": "day",
            "runInterval": 1,
        },
    ]
    for board in boards:
        body = {"name": str(board["key"]), "status": "active", "start": "2000-01-01", **board}
        add_document(database_url, "leaderboard", body, "", tenant)


def records(tenant: str, topic: str, n: int, users: int, seed: int) -> list[SourceRecord]:
    rng = random.Random(seed)
    start = datetime.now(UTC)
    out = []
    for i in range(n):
        user = f"user-{rng.randrange(users)}"
        command = RecordMetricEvent(
            id=new_command_id(),
            tenant=tenant,
            user_id=user,
            received_at=start + timedelta(seconds=30 * i),
            metric_key="lessons",
            value=rng.choice([1, 2, 3]),
            attributes={},
            user=UserPatch(),
        )
        out.append(SourceRecord(topic, 0, i, record_key(tenant, user), encode(command)))
    return out


@dataclass(frozen=True)
class Rate:
    """One round of a case: events/s (wall) and the process's CPU per event, which the other
    processes on a shared box disturb less."""

    events_per_s: float
    cpu_us_per_event: float


def describe(rounds: Sequence[Rate]) -> str:
    """A case's rounds as the benches print them."""
    rates = " / ".join(f"{r.events_per_s:,.0f}" for r in rounds)
    cpu = " / ".join(f"{r.cpu_us_per_event:,.0f}" for r in rounds)
    return f"{rates} ev/s ({cpu} µs CPU per event)"


async def fold_all(
    store: PostgresProjectionStore, batch: list[SourceRecord], cached: bool, size: int = BATCH
) -> Rate:
    cache = UserStateCache(100_000, 1) if cached else None
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(batch), size):
        await project_batch(store, batch[i : i + size], _NoDeadLetters(), cache)
    elapsed, used = time.perf_counter() - start, time.process_time() - cpu
    return Rate(len(batch) / elapsed, used / len(batch) * 1e6)


@dataclass(frozen=True)
class Case:
    """One way of running the step: leaderboards on or off, the user-state cache on or off, the
    collector tuned as the processor tunes it or left at Python's defaults, how many metrics
    (with achievements) the configuration holds besides the one the events name, and how many
    records a batch holds."""

    leaderboards: bool
    cached: bool = True
    tuned_gc: bool = True
    more_metrics: int = 0
    batch: int = BATCH


CASES = {
    "without leaderboards": Case(leaderboards=False),
    "with 2 leaderboards": Case(leaderboards=True),
    "with 2 leaderboards, no cache": Case(leaderboards=True, cached=False),
    "with 2 leaderboards, Python's gc": Case(leaderboards=True, tuned_gc=False),
    "with 2 leaderboards, 20 more metrics": Case(leaderboards=True, more_metrics=20),
    "with 2 leaderboards, one record a batch": Case(leaderboards=True, batch=1),
}
"""The second is the processor as it runs; each of the others changes one thing. One record a
batch is what a synchronous request on an idle stream costs the processor: every batch's fixed
work (its transaction's round trips, psycopg's per-statement work) for each event."""

SINGLES_MOST = 1_000
"""The events folded one a batch (fewer than the other cases: each costs milliseconds)."""


async def measure(
    database_url: str, events: int, users: int, gc_threshold: int
) -> dict[str, list[Rate]]:
    """The :class:`Rate` of each of :data:`CASES`, two rounds (the second in the other order);
    ``gc_threshold`` is the processor's setting (``LAUREL_PROCESSOR_GC_THRESHOLD``)."""
    pool = connection_pool(database_url, max_size=2)
    await pool.open(wait=True)
    store = PostgresProjectionStore(pool)
    run = uuid.uuid4().hex[:8]
    rates: dict[str, list[Rate]] = {name: [] for name in CASES}
    try:
        for round_ in range(2):
            order = list(rates) if round_ == 0 else list(reversed(rates))
            for n, name in enumerate(order):
                case = CASES[name]
                tenant = f"bench-{run}-{round_}-{n}"
                configure(database_url, tenant, case.leaderboards, case.more_metrics)
                n_events = events if case.batch > 1 else min(events, SINGLES_MOST)
                batch = records(tenant, f"bench-{tenant}", n_events, users, round_)
                with tuned_collector(gc_threshold) if case.tuned_gc else nullcontext():
                    rates[name].append(await fold_all(store, batch, case.cached, case.batch))
    finally:
        await pool.close()
    return rates


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=2_000)
    args = parser.parse_args()
    settings = load_settings()
    database_url = LocalStack(settings).database_url()
    rates = await measure(database_url, args.events, args.users, settings.processor_gc_threshold)
    print(f"processor batch step in-process, {args.events:,} events, {args.users:,} users")
    for name, found in rates.items():
        print(f"{name:<40} {describe(found)} (two rounds)")


if __name__ == "__main__":
    asyncio.run(main())
