"""The producer examples of examples/producers (aiokafka and kafkajs) write straight to the
commands topic, and the processor applies what they wrote: the same user's records land on the
same partition as the api's, and a key spelled otherwise is dead-lettered with both spellings."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from ingest.contract import RecordMetricEvent, UserPatch, encode, record_key
from tests.e2e.test_node_sdk import node_modules
from tests.support.kafka import produce, read_all
from tests.support.processes import LaurelProcesses
from tests.support.reference import active_query
from tests.support.waiting import wait_for_change

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "producers"
PRODUCERS = {
    "aiokafka": [sys.executable, str(EXAMPLES / "produce.py")],
    "kafkajs": ["node", str(EXAMPLES / "produce.mjs")],
}


@pytest.fixture(scope="module")
def api(laurel: LaurelProcesses) -> httpx.Client:
    http = httpx.Client(base_url=laurel.base_url, headers=laurel.headers, timeout=30)
    made = http.post("/admin/v1/tenants", json=[{"customerId": "acme", "name": "Acme"}])
    assert made.status_code == 201, made.text
    for tenant in ("", "acme"):
        metric = http.post(
            "/admin/v1/metrics",
            json=[{"name": "Lessons", "key": "lessons"}],
            headers={"Tenant-ID": tenant} if tenant else {},
        )
        assert metric.status_code == 201, metric.text
    return http


def partition_of(laurel: LaurelProcesses, key: bytes) -> set[int]:
    records = asyncio.run(read_all(laurel.ns.bootstrap_servers, laurel.ns.commands_topic))
    return {r.partition for r, _ in records if r.key == key}


@pytest.mark.parametrize(
    ("producer", "tenant", "user_id"),
    [("aiokafka", "", "ada-π"), ("kafkajs", "acme", "zoë-東京")],
)
def test_a_producer_example_writes_commands_the_processor_applies(
    laurel: LaurelProcesses, api: httpx.Client, producer: str, tenant: str, user_id: str
) -> None:
    if producer == "kafkajs":
        node_modules()
    headers = {"Tenant-ID": tenant} if tenant else {}
    through_api = api.post(
        "/v1/metrics/lessons/event", json={"user": {"id": user_id}, "value": 1}, headers=headers
    )
    assert through_api.status_code == 201, through_api.text
    api_partition = partition_of(laurel, record_key(tenant, user_id))
    assert len(api_partition) == 1

    run = subprocess.run(
        [
            *PRODUCERS[producer],
            laurel.ns.bootstrap_servers,
            laurel.ns.commands_topic,
            tenant,
            user_id,
            "lessons",
            "2.5",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    sent: list[dict[str, Any]] = json.loads(run.stdout)
    assert {s["partition"] for s in sent} == api_partition  # the same partitioner, the same key

    def applied() -> dict[str, Any] | None:
        metric = api.get(f"/v1/users/{user_id}/metrics/lessons", headers=headers).json()
        return metric if metric.get("current") == 3.5 else None

    wait_for_change(laurel.ns.database_url, applied, what=f"{producer}'s event to be applied")
    user = api.get(f"/v1/users/{user_id}", headers=headers).json()
    assert user["name"] == f"Written by {producer}"
    for record in sent:  # both commands were decided, neither dead-lettered
        outcome = api.get(f"/v1/events/{record['id']}", headers=headers)
        assert outcome.status_code == 200, outcome.text
    assert active_query(laurel.ns.database_url, "SELECT reason FROM dead_letters") == []


def test_a_key_spelled_otherwise_is_dead_lettered_with_both_spellings(
    laurel: LaurelProcesses, api: httpx.Client
) -> None:
    command = RecordMetricEvent(
        uuid.uuid4(), "", "cy", datetime.now(UTC), "lessons", 1.0, {}, UserPatch()
    )
    spaced = json.dumps(["", "cy"]).encode()  # json.dumps' default separators: '["", "cy"]'
    asyncio.run(
        produce(laurel.ns.bootstrap_servers, laurel.ns.commands_topic, [(spaced, encode(command))])
    )
    reasons = wait_for_change(
        laurel.ns.database_url,
        lambda: active_query(laurel.ns.database_url, "SELECT reason FROM dead_letters"),
        what="the record to be dead-lettered",
    )
    assert reasons == [
        (
            """undecodable: expected key b'["","cy"]', got b'["", "cy"]': the key must be the """
            "compact JSON "
            "array [tenant, user.id] so that the user's commands stay in one partition",
        )
    ]
    assert api.get("/v1/users/cy").status_code == 404
