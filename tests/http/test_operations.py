"""The operator's endpoints in-process: readiness runs every check and names each problem, a
check that hangs or raises is a problem, and the HTTP metrics label requests by route template
(never by a user id) and count what the edge refuses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from api import operations
from api.app import create_app
from api.metrics import ApiMetrics
from api.operations import build_router, ops_app
from tests.support.fakes import FakeEdge


async def fine() -> str | None:
    return None


async def migrations() -> str | None:
    return "migrations not applied: laurel:0099_next"


async def hangs() -> str | None:
    await asyncio.Event().wait()  # never set: a dependency that never answers
    return None


async def raises() -> str | None:
    raise ConnectionRefusedError("connection refused")


def client(app: object) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="http://ops")


async def test_ready_names_every_problem_and_live_does_not_care(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(operations, "CHECK_TIMEOUT_S", 0.05)
    router = build_router(CollectorRegistry(), [fine, migrations, hangs, raises])
    async with client(ops_app(router)) as http:
        ready = await http.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json() == {
            "status": "unready",
            "problems": [
                "migrations not applied: laurel:0099_next",
                "hangs: no answer in 0s",
                "raises: ConnectionRefusedError: connection refused",
            ],
        }
        assert (await http.get("/health/live")).json() == {"status": "live"}


async def test_ready_when_every_check_passes() -> None:
    async with client(ops_app(build_router(CollectorRegistry(), [fine]))) as http:
        ready = await http.get("/health/ready")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})


@pytest.fixture
async def edge_with_metrics() -> AsyncIterator[tuple[httpx.AsyncClient, FakeEdge]]:
    edge = FakeEdge()
    registry = CollectorRegistry()
    metrics = ApiMetrics(registry)
    app = create_app(edge.served(), "test", None, build_router(registry, [fine]), metrics)
    async with client(app) as http:
        yield http, edge


async def test_requests_are_counted_by_route_template_and_status(
    edge_with_metrics: tuple[httpx.AsyncClient, FakeEdge],
) -> None:
    http, edge = edge_with_metrics
    key = {"X-API-KEY": edge.keys.add("admin")}
    bad = await http.post(
        "/v1/metrics/lessons/event", json={"user": {"id": "ada-lovelace"}}, headers=key
    )
    assert 400 <= bad.status_code < 500
    assert (await http.get("/v1/users/ada-lovelace")).status_code == 401
    too_large = await http.post("/v1/metrics/x/event", content=b"x" * 5_000_000, headers=key)
    assert too_large.status_code == 413
    assert (await http.get("/no/such/route")).status_code == 404
    scraped = await http.get("/metrics")
    assert scraped.headers["content-type"].startswith("text/plain")
    counted = {
        (s.labels["route"], s.labels["status"]): s.value
        for family in text_string_to_metric_families(scraped.text)
        for s in family.samples
        if s.name == "laurel_http_requests_total"
    }
    assert counted == {
        ("/v1/metrics/{key}/event", str(bad.status_code)): 1,
        ("/v1/users/{id}", "401"): 1,
        ("unmatched", "413"): 1,  # refused before routing
        ("unmatched", "404"): 1,
    }
    assert "ada-lovelace" not in scraped.text
    assert len((await http.get("/health/live")).headers["X-Request-ID"]) == 32
