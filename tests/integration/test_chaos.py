"""SIGKILL the processor mid-stream, repeatedly; the projection must equal the log's fold."""

from __future__ import annotations

import functools
import random
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from ingest.contract import RecordMetricEvent, UserPatch, encode, record_key
from ingest.ids import new_command_id
from processors.replay import Replay
from projections.core.streaks import FreezePolicy, StreakSettings
from tests.support.config import add_document, create_metric, set_streak_settings
from tests.support.infra import Namespace
from tests.support.kafka import produce
from tests.support.processes import LaurelProcesses
from tests.support.reference import (
    projected_daily,
    projected_entries,
    projected_states,
    projected_totals,
    reference_entries,
    reference_fold,
    reference_states,
    reference_totals,
)
from tests.support.waiting import wait_for_change

pytestmark = pytest.mark.integration

EVENTS = 6000
USERS = 40
STREAKS = StreakSettings(metrics=(("steps", 4.0),), freezes=FreezePolicy(1, 2, 3, 1))


def add_rewards(database_url: str, metric_id: uuid.UUID) -> None:
    """An achievement at 50 steps, a points system paying 3 points per 4 steps, capped, and
    leaderboards of steps (top 10), points in daily runs and streaks."""
    add_document(
        database_url,
        "achievement",
        {
            "name": "Fifty",
            "key": "fifty",
            "trigger": "metric",
            "status": "active",
            "metricId": str(metric_id),
            "metricValue": 50,
            "userAttributes": [],
        },
    )
    system = add_document(
        database_url, "points_system", {"name": "XP", "key": "xp", "maxPoints": 5000}
    )
    add_document(
        database_url,
        "points_trigger",
        {
            "systemId": str(system),
            "type": "metric",
            "points": 3,
            "status": "active",
            "metricId": str(metric_id),
            "metricThreshold": 4,
            "userAttributes": [],
        },
        scope=str(system),
    )
    boards: list[dict[str, object]] = [
        {"key": "steps", "rankBy": "metric", "metricId": str(metric_id), "maxParticipants": 10},
        {
            "key": "daily-xp",
            "rankBy": "points",
            "pointsSystemId": str(system),
            "runUnit": "day",
            "runInterval": 1,
        },
        {"key": "streaks", "rankBy": "streak"},
    ]
    for board in boards:
        add_document(
            database_url,
            "leaderboard",
            {"name": str(board["key"]), "status": "active", "start": "2000-01-01", **board},
        )


def at_least(database_url: str, count: int) -> bool:
    return decided(database_url) >= count


def event_records(metric: str, events: list[tuple[str, float]]) -> list[tuple[bytes, bytes]]:
    """Topic records (key, value) of metric events in the default tenant, as a producer
    writing straight to the topic would send them, spread over about three weeks (so streaks
    extend, spend freezes and break)."""
    records = []
    start = datetime.now(UTC)
    for n, (user, value) in enumerate(events):
        command = RecordMetricEvent(
            id=new_command_id(),
            tenant="",
            user_id=user,
            received_at=start + timedelta(minutes=5 * n),
            metric_key=metric,
            value=value,
            attributes={},
            user=UserPatch(),
        )
        records.append((record_key("", user), encode(command)))
    return records


def applied_records(database_url: str) -> int:
    """How many records of the topic the live projection has passed (checkpoints + 1)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT sum(last_offset + 1) FROM laurel_p1.checkpoints").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def decided(database_url: str) -> int:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM laurel_p1.command_outcomes").fetchone()
    return int(row[0]) if row else 0


async def test_repeated_sigkill_mid_batch_loses_and_doubles_nothing(namespace: Namespace) -> None:
    metric_id = create_metric(namespace.database_url, "steps")
    set_streak_settings(namespace.database_url, STREAKS)
    add_rewards(namespace.database_url, metric_id)
    rng = random.Random(7)
    values = [rng.choice([1, 2, 3, 5, -1, 0.5]) for _ in range(EVENTS)]
    users = [f"user-{rng.randrange(USERS)}" for _ in range(EVENTS)]
    records = event_records("steps", list(zip(users, values, strict=True)))
    # Every tenth record is sent twice, as a producer retrying without idempotence would.
    records += records[::10]
    await produce(namespace.bootstrap_servers, namespace.commands_topic, records)

    procs = LaurelProcesses(
        namespace,
        # No scheduler: its ticks would add records to the exact count this test checks.
        extra_env={"LAUREL_PROCESSOR_BATCH_MAX": "200", "LAUREL_SCHEDULER_INTERVAL_S": "0"},
    )
    kills = 0
    try:
        for target in (EVENTS // 5, EVENTS // 2, (EVENTS * 4) // 5):
            procs.start_processor()
            reached = functools.partial(at_least, namespace.database_url, target)
            wait_for_change(namespace.database_url, reached, 120, f"{target} decided commands")
            procs.kill_processor()
            kills += 1
        assert decided(namespace.database_url) < EVENTS, "killed too late to prove anything"
        procs.start_processor()
        wait_for_change(
            namespace.database_url,
            lambda: decided(namespace.database_url) >= EVENTS,
            180,
            "every command",
        )
    finally:
        procs.stop()

    assert kills == 3
    assert decided(namespace.database_url) == EVENTS
    expected: dict[str, float] = {}
    for user, value in zip(users, values, strict=True):
        expected[user] = expected.get(user, 0.0) + value
    totals = projected_totals(namespace.database_url)
    assert {key[1]: total for (key, _), total in totals.items()} == pytest.approx(expected)
    assert {m for (_, m) in totals} == {metric_id}

    reference = await reference_fold(
        namespace.bootstrap_servers, namespace.commands_topic, namespace.database_url
    )
    assert reference_totals(reference) == totals  # bit-for-bit: same order, same floats
    assert projected_daily(namespace.database_url) == reference.data.daily
    streaks = projected_states(namespace.database_url, "streaks")
    assert streaks == reference_states(reference, "streaks")
    assert max(s["longest"] for s in streaks.values()) > 1  # the streaks did something
    points = projected_states(namespace.database_url, "user_points")
    assert points == reference_states(reference, "user_points")
    assert all(p["totals"] for p in points.values())  # every user earned points
    entries = projected_entries(namespace.database_url)
    assert entries == reference_entries(reference)
    assert len(entries) == 3 * USERS

    # A replay of the log after all that rebuilds the same projection and switches to it. It
    # folds up to the live checkpoints (trailing duplicates may not have been consumed yet).
    applied_live = applied_records(namespace.database_url)
    assert EVENTS <= applied_live <= len(records)
    result = await Replay(
        namespace.database_url, namespace.bootstrap_servers, namespace.commands_topic
    ).run()
    assert result.switched
    assert result.records == applied_live
    assert not any(result.differences.values())
    assert projected_totals(namespace.database_url) == totals


async def test_rebalances_between_workers_lose_and_double_nothing(namespace: Namespace) -> None:
    create_metric(namespace.database_url, "laps")
    records = event_records("laps", [(f"runner-{i % 97}", 1.0) for i in range(EVENTS)])
    procs = LaurelProcesses(namespace, extra_env={"LAUREL_PROCESSOR_BATCH_MAX": "100"})
    try:
        procs.start_processor()  # worker A
        procs.start_processor()  # worker B joins: the group rebalances
        await produce(namespace.bootstrap_servers, namespace.commands_topic, records)
        wait_for_change(
            namespace.database_url,
            functools.partial(at_least, namespace.database_url, EVENTS // 3),
            120,
            "a third decided",
        )
        procs.kill_processor()  # B dies mid-stream: its partitions move to A
        assert decided(namespace.database_url) < EVENTS
        procs.start_processor()  # C joins: another rebalance
        wait_for_change(
            namespace.database_url,
            functools.partial(at_least, namespace.database_url, EVENTS),
            180,
            "all decided",
        )
    finally:
        procs.stop()
    assert decided(namespace.database_url) == EVENTS
    totals = projected_totals(namespace.database_url)
    assert sum(totals.values()) == EVENTS
    reference = await reference_fold(
        namespace.bootstrap_servers, namespace.commands_topic, namespace.database_url
    )
    assert reference_totals(reference) == totals
