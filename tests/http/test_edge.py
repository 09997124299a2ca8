"""The HTTP edge in-process: ``create_app`` over in-memory fakes of its adapters, driven through
httpx's ASGI transport — authentication and scope, limits, request validation, error mapping and
what the write routes publish, in milliseconds and without Kafka or PostgreSQL. (The same
behaviours end to end, against real services, are in tests/integration and tests/e2e.)"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from aiokafka.errors import KafkaConnectionError

from api.app import create_app
from ingest.contract import RecordMetricEvent, decode, encode, record_key
from projections.core.model import AttributeVersion, ConfigHistory, MetricVersion
from tests.support.fakes import NOW, FailingPublisher, FakeEdge

SINCE = NOW - timedelta(days=1)
LESSONS = MetricVersion(SINCE, None, "", uuid.uuid4(), "lessons", "Lessons")
DEVICE = AttributeVersion(SINCE, None, "", uuid.uuid4(), "device", "Device", "event")


def configured(edge: FakeEdge) -> FakeEdge:
    edge.config.by_tenant[""] = ConfigHistory(metrics=(LESSONS,), attributes=(DEVICE,))
    return edge


async def client_for(edge: FakeEdge) -> httpx.AsyncClient:
    app = create_app(edge.served(), "test")
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://edge")


@pytest.fixture
def edge() -> FakeEdge:
    return configured(FakeEdge())


@pytest.fixture
async def http(edge: FakeEdge) -> AsyncIterator[httpx.AsyncClient]:
    async with await client_for(edge) as client:
        yield client


def admin(edge: FakeEdge) -> dict[str, str]:
    return {"X-API-KEY": edge.keys.add("admin")}


EVENT = "/v1/metrics/lessons/event"
ASYNC = {"Prefer": "respond-async"}


async def test_no_key_or_a_bad_key_is_401_naming_the_header(
    http: httpx.AsyncClient, edge: FakeEdge
) -> None:
    missing = await http.post(EVENT, json={"user": {"id": "ada"}, "value": 1})
    assert (missing.status_code, missing.json()) == (
        401,
        {"error": "X-API-KEY header is required"},
    )
    wrong = await http.get("/v1/users/ada", headers={"X-API-KEY": "nope.nope"})
    assert (wrong.status_code, wrong.json()) == (401, {"error": "invalid or revoked API key"})
    assert edge.publisher.published == []


async def test_application_keys_stay_on_their_user_and_off_the_admin_api(
    http: httpx.AsyncClient, edge: FakeEdge
) -> None:
    ada = {"X-API-KEY": edge.keys.add("application", tenant="", user_id="ada")}
    on_admin = await http.get("/admin/v1/metrics", headers=ada)
    assert on_admin.status_code == 403
    assert "Application API" in on_admin.json()["error"]
    for_bob = await http.post(EVENT, json={"user": {"id": "bob"}, "value": 1}, headers=ada)
    assert for_bob.status_code == 403
    assert "'ada'" in for_bob.json()["error"]
    assert edge.publisher.published == []


async def test_tenant_ids_must_name_an_active_tenant(
    http: httpx.AsyncClient, edge: FakeEdge
) -> None:
    headers = admin(edge)
    unknown = await http.get("/v1/users/ada", headers=headers | {"Tenant-ID": "acme"})
    assert unknown.status_code == 404
    assert "POST /admin/v1/tenants" in unknown.json()["error"]
    blank = await http.get("/v1/users/ada", headers=headers | {"Tenant-ID": " "})
    assert blank.status_code == 400
    edge.keys.add_tenant("acme", status="archived")
    archived = await http.get("/v1/users/ada", headers=headers | {"Tenant-ID": "acme"})
    assert archived.status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "names"),
    [
        (b"{", 400, "not valid JSON"),
        (b"[]", 422, "must be a JSON object"),
        (b'{"user": {"id": ""}, "value": 1}', 422, "user.id"),
        (b'{"user": {"id": "ada", "tz": "Mars/Olympus"}, "value": 1}', 422, "tz"),
        (b'{"user": {"id": "ada"}, "value": "1"}', 422, "value must be a number"),
        (b'{"user": {"id": "ada"}, "value": 1, "attributes": {"colour": "red"}}', 422, "colour"),
        (b'{"user": {"id": "a\\u0000b"}, "value": 1}', 422, "NUL"),
    ],
)
async def test_a_bad_event_is_a_4xx_naming_the_problem_and_publishes_nothing(
    http: httpx.AsyncClient, edge: FakeEdge, body: bytes, status: int, names: str
) -> None:
    answer = await http.post(
        EVENT, content=body, headers=admin(edge) | {"Content-Type": "application/json"}
    )
    assert answer.status_code == status, answer.text
    assert names in answer.json()["error"]
    assert edge.publisher.published == []


async def test_an_unknown_metric_is_404_and_a_long_idempotency_key_422(
    http: httpx.AsyncClient, edge: FakeEdge
) -> None:
    body = {"user": {"id": "ada"}, "value": 1}
    unknown = await http.post("/v1/metrics/nope/event", json=body, headers=admin(edge))
    assert (unknown.status_code, unknown.json()) == (
        404,
        {"error": "Metric with key 'nope' not found"},
    )
    long_key = admin(edge) | {"Idempotency-Key": "k" * 256}
    refused = await http.post(EVENT, json=body, headers=long_key)
    assert refused.status_code == 422
    assert "Idempotency-Key" in refused.json()["error"]
    assert edge.publisher.published == []


async def test_respond_async_publishes_the_command_and_answers_202(
    http: httpx.AsyncClient, edge: FakeEdge
) -> None:
    body = {
        "user": {"id": "ada", "tz": "Europe/London"},
        "value": 2.5,
        "attributes": {"device": "ios"},
    }
    headers = admin(edge) | ASYNC | {"Idempotency-Key": "lesson-1"}
    answer = await http.post(EVENT, json=body, headers=headers)
    assert answer.status_code == 202
    [command] = edge.publisher.published
    assert isinstance(command, RecordMetricEvent)
    assert answer.json() == {
        "eventId": str(command.id),
        "status": "pending",
        "kind": "metric.event",
        "outcome": f"/v1/events/{command.id}",
    }
    assert (command.user_id, command.metric_key, command.value) == ("ada", "lessons", 2.5)
    assert (command.idempotency_key, command.received_at) == ("lesson-1", NOW)
    assert dict(command.attributes) == {"device": "ios"}
    assert decode(record_key("", "ada"), encode(command)) == command  # what the topic gets


async def test_a_synchronous_event_whose_outcome_does_not_come_answers_202_pending(
    http: httpx.AsyncClient, edge: FakeEdge
) -> None:
    answer = await http.post(EVENT, json={"user": {"id": "ada"}, "value": 1}, headers=admin(edge))
    assert answer.status_code == 202
    assert answer.json()["status"] == "pending"
    assert len(edge.publisher.published) == 1


async def test_a_broker_outage_is_503_with_retry_after() -> None:
    edge = configured(FakeEdge(publisher=FailingPublisher(KafkaConnectionError())))
    async with await client_for(edge) as http:
        answer = await http.post(
            EVENT, json={"user": {"id": "ada"}, "value": 1}, headers=admin(edge) | ASYNC
        )
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "1"
    assert "KafkaConnectionError" in answer.json()["error"]


async def test_limits_body_size_nul_in_the_url_and_rate() -> None:
    edge = configured(FakeEdge(max_body_bytes=1024, rate_per_s=1, burst=2))
    headers = admin(edge)
    async with await client_for(edge) as http:
        large = await http.post(EVENT, content=b"x" * 2048, headers=headers)
        assert (large.status_code, large.json()) == (
            413,
            {"error": "request body larger than 1024 bytes"},
        )
        nul = await http.get("/v1/users/a%00b", headers=headers)
        assert nul.status_code == 400
        passed = [await http.get("/v1/streaks/rankings", headers=headers) for _ in range(2)]
        assert [r.status_code for r in passed] == [404, 404]  # the guard's refusals cost nothing
        limited = await http.get("/v1/streaks/rankings", headers=headers)
        assert limited.status_code == 429  # the third request of a burst of two
        assert int(limited.headers["Retry-After"]) >= 1


async def test_absent_features_are_named_not_a_bare_not_found(
    http: httpx.AsyncClient, edge: FakeEdge
) -> None:
    headers = admin(edge)
    rankings = await http.get("/v1/streaks/rankings", headers=headers)
    assert rankings.status_code == 404
    assert "rankBy: streak" in rankings.json()["error"]
    settings = await http.get("/admin/v1/settings", headers=headers)
    assert settings.status_code == 404
    assert "not supported" in settings.json()["error"]


async def test_the_openapi_document_describes_both_apis(http: httpx.AsyncClient) -> None:
    document = (await http.get("/openapi.json")).json()
    paths = document["paths"]
    assert "/v1/metrics/{key}/event" in paths
    assert "/admin/v1/points/{system_id}/triggers" in paths
    assert "/v1/users/{id}/wrapped" in paths
    assert "/v1/streaks/rankings" not in paths  # only what Laurel implements
    assert (await http.get("/health")).json()["status"] == "ok"


@pytest.mark.parametrize(
    ("item", "names"),
    [
        ({"url": "http://127.0.0.1:9000/hook"}, "loopback address 127.0.0.1"),
        ({"url": "http://[::ffff:10.0.0.1]/hook"}, "private address 10.0.0.1"),
        ({"url": "http://169.254.169.254/latest"}, "link-local address"),
        ({"url": "ftp://example.com/"}, "http or https"),
        ({"url": "https://8.8.8.8/", "events": ["user.created"]}, "unknown type 'user.created'"),
        ({"url": "https://8.8.8.8/", "status": "paused"}, "status must be"),
    ],
)
async def test_webhook_endpoints_inside_the_network_or_malformed_are_refused_as_issues(
    http: httpx.AsyncClient, edge: FakeEdge, item: dict[str, object], names: str
) -> None:
    answer = await http.post("/admin/v1/webhooks", json=[item], headers=admin(edge))
    assert answer.status_code == 200, answer.text  # nothing created: every item has an issue
    body = answer.json()
    assert body["created"] == []
    (issue,) = body["issues"]
    assert names in issue["message"]
    assert issue["index"] == 0
