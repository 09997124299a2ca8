"""`laurel replay` rebuilds the projections from the log, verifies and switches reads, while the
api and the processor keep running."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import psycopg
import pytest

from ingest.contract import record_key
from tests.support.kafka import produce
from tests.support.processes import LaurelProcesses
from tests.support.reference import projected_daily, projected_totals
from tests.support.waiting import wait_for_async

pytestmark = pytest.mark.integration


def active(database_url: str) -> str:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT schema_name FROM laurel.active_projection").fetchone()
    assert row is not None
    return str(row[0])


async def test_replay_reproduces_live_projections_and_switches_reads(
    laurel: LaurelProcesses,
) -> None:
    client = httpx.AsyncClient(base_url=laurel.base_url, headers=laurel.headers, timeout=30)
    await client.post("/admin/v1/metrics", json=[{"name": "Xp", "key": "xp"}])
    plan = await client.post(
        "/admin/v1/attributes", json=[{"name": "Plan", "key": "plan", "type": "user"}]
    )
    metric_id = (await client.get("/admin/v1/metrics")).json()[0]["id"]
    board = await client.post(
        "/admin/v1/leaderboards",
        json=[
            {
                "name": "By plan",
                "key": "by-plan",
                "rankBy": "metric",
                "metricId": metric_id,
                "status": "active",
                "start": "2000-01-01",
                "breakdownAttributes": [plan.json()["created"][0]["id"]],
            }
        ],
    )
    assert board.json()["created"], board.text
    idem = str(uuid.uuid4())
    for i in range(60):
        headers = {"Idempotency-Key": idem} if i % 7 == 0 else {}
        response = await client.post(
            "/v1/metrics/xp/event",
            headers=headers,
            json={
                "user": {
                    "id": f"p{i % 5}",
                    "tz": "Australia/Lord_Howe",
                    "attributes": {"plan": "pro" if i % 2 else "free"},
                },
                "value": i,
            },
        )
        assert response.status_code in (201, 202)
    await client.put("/v1/users/p1", json={"name": "Pat"})
    await produce(
        laurel.ns.bootstrap_servers, laurel.ns.commands_topic, [(record_key("", "p2"), b"poison")]
    )
    before_schema = active(laurel.ns.database_url)
    before_totals = projected_totals(laurel.ns.database_url)
    pro_before = (await client.get("/v1/leaderboards/by-plan?userAttributes=plan:pro")).json()
    # users changed plan with every event: each sits in the group of their latest plan only
    ranked = [r["userId"] for r in pro_before["rankings"]]
    assert ranked
    assert len(ranked) == len(set(ranked))

    replay = await asyncio.to_thread(laurel.replay)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "switched reads to" in replay.stdout
    assert "records/s" in replay.stdout or "/s" in replay.stdout
    after_schema = active(laurel.ns.database_url)
    assert after_schema != before_schema
    assert projected_totals(laurel.ns.database_url) == before_totals
    # replay compared leaderboard_entries too; the API's rankings follow the switch
    pro_after = (await client.get("/v1/leaderboards/by-plan?userAttributes=plan:pro")).json()
    assert pro_after["rankings"] == pro_before["rankings"]

    # The processor carries on in the new schema, and the API reads from it.
    response = await client.post("/v1/metrics/xp/event", json={"user": {"id": "p0"}, "value": 1000})
    assert response.status_code == 201, response.text

    async def read_total() -> float | None:
        found = await client.get("/v1/users/p0/metrics/xp")
        total = float(found.json()["current"])
        return total if total >= 1000 else None

    total = await wait_for_async(
        read_total, what="the post-switch event", database_url=laurel.ns.database_url
    )
    old_p0 = sum(t for (key, _), t in before_totals.items() if key == ("", "p0"))
    assert total == old_p0 + 1000
    assert projected_daily(laurel.ns.database_url)  # the new schema has the daily rows too
    user = await client.get("/v1/users/p1")
    assert user.json()["name"] == "Pat"
