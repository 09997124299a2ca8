"""The delivery queue in PostgreSQL: heads of each user's order only, leases that run out, a
failure streak that disables an endpoint, and retention by the database's clock; and the
``leaderboard.changed`` windows, which outlive the ranker."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from processors.ranker import ChangeWindows
from projections.store.connections import connection_pool
from projections.store.ranking_cache import GroupKey
from projections.store.webhook_messages import Message
from projections.store.webhooks import Attempt, Claimed, Endpoint, WebhookStore, announce
from tests.support.infra import Namespace
from tests.support.waiting import wait_for_async

pytestmark = pytest.mark.integration

LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)  # an api clock far behind the database's


@pytest.fixture
async def store(namespace: Namespace) -> AsyncIterator[WebhookStore]:
    pool = connection_pool(namespace.database_url)
    await pool.open(wait=True)
    try:
        yield WebhookStore(pool)
    finally:
        await pool.close()


async def queue(store: WebhookStore, *users: str) -> tuple[Endpoint, list[str]]:
    endpoint = await store.create("t", "https://example.com/hook", None, None, "active")
    messages = [
        Message(f"msg_{n}", "t", user, "points.changed", LONG_AGO, {"n": n})
        for n, user in enumerate(users)
    ]
    async with store.pool.connection() as conn, conn.transaction():
        await announce(conn, messages)
    return endpoint, [m.id for m in messages]


async def test_only_the_oldest_pending_message_of_each_user_is_claimed(store: WebhookStore) -> None:
    _, ids = await queue(store, "a", "a", "b")
    first = await store.claim(10, 30.0)
    assert sorted(c.message_id for c in first) == [ids[0], ids[2]]
    assert await store.claim(10, 30.0) == []  # a's second waits for a's first; leases hold
    retry = Attempt(500, "HTTP 500", 1.0, retry_in_s=0.0)
    await store.record(next(c for c in first if c.message_id == ids[0]), retry, timedelta(days=5))
    (again,) = await store.claim(10, 30.0)  # a's first again, not its second
    assert (again.message_id, again.attempts) == (ids[0], 2)
    await store.record(again, Attempt(200, None, 1.0, None), timedelta(days=5))
    (second,) = await store.claim(10, 30.0)
    assert second.message_id == ids[1]


async def test_a_lease_that_runs_out_is_claimed_again(store: WebhookStore) -> None:
    await queue(store, "a")
    (held,) = await store.claim(10, 0.05)  # its process dies: nothing is recorded

    async def claimed_again() -> list[Claimed]:
        return await store.claim(10, 30.0)

    (again,) = await wait_for_async(claimed_again, 10, "the lease to run out")
    assert (again.message_id, again.attempts) == (held.message_id, 2)


async def test_failures_without_a_success_disable_the_endpoint_saying_since_when(
    store: WebhookStore,
) -> None:
    endpoint, _ = await queue(store, "a")
    failed = Attempt(503, "HTTP 503", 1.0, retry_in_s=0.0)
    (claimed,) = await store.claim(10, 30.0)
    await store.record(claimed, failed, timedelta(days=5))  # the streak begins
    (claimed,) = await store.claim(10, 30.0)
    await store.record(claimed, failed, timedelta(days=5))
    still = await store.endpoint("t", endpoint.id)
    assert still is not None
    assert still.status == "active"
    (claimed,) = await store.claim(10, 30.0)
    await store.record(claimed, failed, timedelta(0))  # longer than that without a success
    disabled = await store.endpoint("t", endpoint.id)
    assert disabled is not None
    assert disabled.status == "disabled"
    assert (disabled.disabled_reason or "").startswith("no successful delivery since ")
    assert await store.claim(10, 30.0) == []  # its deliveries wait for it to be enabled


async def test_retention_counts_from_when_the_database_stored_a_message(
    store: WebhookStore, namespace: Namespace
) -> None:
    await queue(store, "a", "b")
    assert await store.prune(timedelta(days=30)) == 0  # decided "in 2020", stored just now
    assert await store.prune(timedelta(0)) == 2
    with psycopg.connect(namespace.database_url) as conn:
        row = conn.execute("SELECT count(*) FROM laurel.webhook_deliveries").fetchone()
    assert row == (0,)


async def test_an_attempt_recorded_after_a_replay_or_a_newer_claim_changes_nothing(
    store: WebhookStore,
) -> None:
    endpoint, ids = await queue(store, "a")
    (in_flight,) = await store.claim(10, 30.0)
    assert await store.replay(endpoint, message_ids=ids) == 1  # while it is being sent
    await store.record(in_flight, Attempt(200, None, 1.0, None), timedelta(days=5))
    (replayed,) = await store.claim(10, 30.0)  # the replay still stands
    assert (replayed.message_id, replayed.attempts) == (ids[0], 1)
    await store.record(replayed, Attempt(200, None, 1.0, None), timedelta(days=5))
    (logged,) = await store.deliveries(endpoint.id, None, None, 10, 0)
    assert (logged.state, logged.attempts) == ("delivered", 1)


async def test_leaderboard_change_windows_outlive_the_ranker(store: WebhookStore) -> None:
    group = GroupKey("t", uuid.uuid4(), date(2026, 6, 1), "")
    t0 = datetime(2026, 6, 1, 12, tzinfo=UTC)
    every = timedelta(minutes=15)
    first = ChangeWindows(every)
    async with store.pool.connection() as conn, conn.transaction():
        await first.load(conn)
        assert first.due({group}, t0) == [group]
        assert first.due({group}, t0 + timedelta(minutes=1)) == []  # waits for 12:15
        await first.save(conn, t0 + timedelta(minutes=1))
    restarted = ChangeWindows(every)  # a new leader, or the same after a restart
    async with store.pool.connection() as conn, conn.transaction():
        await restarted.load(conn)
        assert restarted.due({group}, t0 + timedelta(minutes=2)) == []  # not sent early
        assert restarted.due(set(), t0 + every) == [group]  # nor dropped
        await restarted.save(conn, t0 + every)
    # once a window holds nothing back, it is forgotten
    async with store.pool.connection() as conn, conn.transaction():
        await restarted.save(conn, t0 + 2 * every + timedelta(seconds=1))
        cur = await conn.execute("SELECT count(*) FROM laurel.leaderboard_change_windows")
        assert await cur.fetchone() == (0,)
