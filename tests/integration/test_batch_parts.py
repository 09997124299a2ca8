"""A large batch is folded and written in parts (``project_batch``'s ``parts_of``): against a
real PostgreSQL, what it stores equals what the same records store written as one part."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from ingest.contract import RecordMetricEvent, UserPatch, encode, record_key
from processors.projector import project_batch
from projections.core.streaks import StreakSettings
from projections.store.connections import connection_pool
from projections.store.ports import SourceRecord
from projections.store.postgres import PostgresProjectionStore
from projections.store.projection_schemas import create_next_schema, differences
from tests.support.config import add_document, create_metric, set_streak_settings
from tests.support.infra import Namespace
from tests.support.reference import DiscardSink

pytestmark = pytest.mark.integration


def configure(database_url: str) -> None:
    """Every rule an event can run: a daily streak, an achievement, points with a level, a
    leaderboard broken down by an event attribute."""
    metric = str(create_metric(database_url, "laps"))
    set_streak_settings(database_url, StreakSettings(metrics=(("laps", 1.0),)))
    achievement: dict[str, object] = {"name": "Ten", "key": "ten", "trigger": "metric"}
    achievement |= {"status": "active", "metricId": metric, "metricValue": 10}
    add_document(database_url, "achievement", achievement)
    system = str(add_document(database_url, "points_system", {"name": "XP", "key": "xp"}))
    trigger: dict[str, object] = {"systemId": system, "type": "metric", "points": 5}
    trigger |= {"status": "active", "metricId": metric, "metricThreshold": 1, "userAttributes": []}
    add_document(database_url, "points_trigger", trigger, system)
    level: dict[str, object] = {"systemId": system, "name": "Two", "key": "two", "points": 20}
    add_document(database_url, "points_level", level, system)
    board: dict[str, object] = {"name": "Top", "key": "top", "rankBy": "metric"}
    board |= {"metricId": metric, "status": "active", "start": "2000-01-01"}
    add_document(database_url, "leaderboard", board)


def records(topic: str, n: int, users: int) -> list[SourceRecord]:
    """``n`` events of ``users`` users over the last 20 hours, some with idempotency keys, the first
    ten on the topic twice."""
    rng = random.Random(7)
    start = datetime.now(UTC) - timedelta(hours=20)  # the configuration is a day old
    out = []
    for offset in range(n):
        user = f"runner-{rng.randrange(users)}"
        idem = f"k{rng.randrange(5)}" if offset % 4 == 0 else None
        command = RecordMetricEvent(
            uuid.uuid4(), "", user, start + timedelta(minutes=2 * offset), "laps",
            float(rng.choice([1, 2, 3])), {}, UserPatch(), idem,
        )  # fmt: skip
        out.append(SourceRecord(topic, 0, offset, record_key("", user), encode(command)))
    return [*out, *(SourceRecord(topic, 0, n + i, r.key, r.value) for i, r in enumerate(out[:10]))]


async def test_a_batch_written_in_parts_stores_what_it_stores_written_whole(
    namespace: Namespace,
) -> None:
    configure(namespace.database_url)
    batch = records(namespace.commands_topic, 400, 60)
    rebuilt, live = create_next_schema(namespace.database_url)
    pool = connection_pool(namespace.database_url, max_size=2)
    await pool.open(wait=True)
    try:
        in_parts = await project_batch(
            PostgresProjectionStore(pool, schema=live), batch, DiscardSink(), parts_of=7
        )
        whole = await project_batch(
            PostgresProjectionStore(pool, schema=rebuilt), batch, DiscardSink(), parts_of=10**6
        )
    finally:
        await pool.close()
    assert in_parts == whole
    assert whole.applied == 400
    async with await psycopg.AsyncConnection.connect(namespace.database_url) as conn:
        differing = await differences(conn, live, rebuilt)
        counts = await conn.execute(
            f"SELECT (SELECT count(*) FROM {live}.points_awards), "
            f"(SELECT count(*) FROM {live}.user_achievements), "
            f"(SELECT count(*) FROM {live}.leaderboard_entries), "
            f"(SELECT count(*) FROM {live}.idempotency_keys)"
        )
        awards, achievements, entries, keys = (await counts.fetchone()) or (0, 0, 0, 0)
    assert differing, "no table compared"
    assert not any(differing.values()), differing
    # what was compared holds every rule's rows
    assert entries == 60
    assert min(awards, achievements, keys) > 0
