"""The walking skeleton through real parts: HTTP -> Kafka -> Faust -> PostgreSQL -> HTTP."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import httpx
import orjson
import pytest

from ingest.contract import RecordMetricEvent, UserPatch, encode, record_key
from ingest.ids import new_command_id
from tests.support.kafka import produce, read_all
from tests.support.processes import LaurelProcesses
from tests.support.reference import projected_totals, reference_fold, reference_totals
from tests.support.waiting import wait_for_async

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(laurel: LaurelProcesses) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=laurel.base_url, headers=laurel.headers, timeout=30)


async def create_metric(client: httpx.AsyncClient, key: str) -> str:
    response = await client.post("/admin/v1/metrics", json=[{"name": key, "key": key}])
    assert response.status_code == 201, response.text
    return str(response.json()["created"][0]["id"])


async def test_event_goes_through_kafka_and_postgres_and_reads_back(
    client: httpx.AsyncClient,
) -> None:
    metric_id = await create_metric(client, "lessons")
    first = await client.post(
        "/v1/metrics/lessons/event",
        json={"user": {"id": "ada", "tz": "Asia/Kathmandu"}, "value": 3},
    )
    assert first.status_code == 201, first.text
    assert first.json()["total"] == 3
    assert first.json()["metricId"] == metric_id
    second = await client.post(
        "/v1/metrics/lessons/event", json={"user": {"id": "ada"}, "value": 1.5}
    )
    assert second.json()["total"] == 4.5

    metric = await client.get("/v1/users/ada/metrics/lessons")
    assert metric.status_code == 200
    assert metric.json()["current"] == 4.5
    user = await client.get("/v1/users/ada")
    assert user.json()["tz"] == "Asia/Kathmandu"


async def test_same_record_twice_on_the_topic_counts_once(
    client: httpx.AsyncClient, laurel: LaurelProcesses
) -> None:
    await create_metric(client, "twice")
    command = RecordMetricEvent(
        id=new_command_id(),
        tenant="",
        user_id="bob",
        received_at=datetime.now(UTC),
        metric_key="twice",
        value=5,
        attributes={},
        user=UserPatch(),
    )
    record = (record_key("", "bob"), encode(command))
    await produce(laurel.ns.bootstrap_servers, laurel.ns.commands_topic, [record, record])

    async def both_consumed() -> bool:
        # A marker event after the duplicates: once it is applied, so are they (one partition).
        response = await client.post(
            "/v1/metrics/twice/event", json={"user": {"id": "bob"}, "value": 0}
        )
        return response.status_code == 201

    await wait_for_async(
        both_consumed, what="the marker event", database_url=laurel.ns.database_url
    )
    metric = await client.get("/v1/users/bob/metrics/twice")
    assert metric.json()["current"] == 5


async def test_poison_record_is_dead_lettered_and_the_partition_moves_on(
    client: httpx.AsyncClient, laurel: LaurelProcesses
) -> None:
    await create_metric(client, "poison")
    key = record_key("", "carol")
    await produce(
        laurel.ns.bootstrap_servers,
        laurel.ns.commands_topic,
        [(key, b"{not json"), (key, orjson.dumps({"v": 1, "type": "metric.event"}))],
    )
    after = await client.post(
        "/v1/metrics/poison/event", json={"user": {"id": "carol"}, "value": 2}
    )
    assert after.status_code == 201
    assert after.json()["total"] == 2

    async def dead_letters() -> list[tuple[object, list[tuple[str, bytes]]]]:
        found = await read_all(laurel.ns.bootstrap_servers, laurel.ns.dead_letter_topic)
        return [r for r in found if r[0].key == key]

    letters = await wait_for_async(
        dead_letters, what="dead letters", database_url=laurel.ns.database_url
    )
    reasons = sorted(dict(headers)["laurel-reason"].decode() for _, headers in letters)
    assert len(reasons) == 2
    assert reasons[0].startswith("undecodable: id must be a UUID") or "id" in reasons[0]
    assert any("not JSON" in r for r in reasons)


async def test_fifty_concurrent_requests_with_one_idempotency_key(
    client: httpx.AsyncClient,
) -> None:
    await create_metric(client, "idem")
    key = str(uuid.uuid4())
    responses = await asyncio.gather(
        *(
            client.post(
                "/v1/metrics/idem/event",
                headers={"Idempotency-Key": key},
                json={"user": {"id": "dan"}, "value": 1},
            )
            for _ in range(50)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [202] * 49
    assert all(r.json()["idempotentReplayed"] == (r.status_code == 202) for r in responses)
    assert all(r.json()["total"] == 1 for r in responses)


async def test_projection_equals_reference_fold_of_the_log(
    client: httpx.AsyncClient, laurel: LaurelProcesses
) -> None:
    await create_metric(client, "ref")
    for i in range(20):
        response = await client.post(
            "/v1/metrics/ref/event", json={"user": {"id": f"r{i % 4}"}, "value": i}
        )
        assert response.status_code == 201
    reference = await reference_fold(
        laurel.ns.bootstrap_servers, laurel.ns.commands_topic, laurel.ns.database_url
    )
    assert reference_totals(reference) == projected_totals(laurel.ns.database_url)


async def test_inputs_postgres_cannot_store_are_refused_up_front(
    client: httpx.AsyncClient,
) -> None:
    await create_metric(client, "nul")
    body = b'{"user": {"id": "a\\u0000b"}, "value": 1}'
    refused = await client.post("/v1/metrics/nul/event", content=body)
    assert refused.status_code == 422
    assert "NUL" in refused.json()["error"]
    assert (await client.get("/v1/users/a%00b")).status_code == 400
    huge = await client.post("/v1/metrics/nul/event", json={"user": {"id": "x"}, "value": 1e308})
    assert huge.status_code == 201
    overflow = await client.post(
        "/v1/metrics/nul/event", json={"user": {"id": "x"}, "value": 1e308}
    )
    assert overflow.status_code == 422
    assert "overflow" in overflow.json()["error"]
    # The partition was not wedged by any of it.
    after = await client.post("/v1/metrics/nul/event", json={"user": {"id": "x"}, "value": -1e308})
    assert after.status_code == 201
    assert after.json()["total"] == 0
