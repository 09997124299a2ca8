"""What an operator sees: every process's /metrics moves by exactly what it did, /health/* say
whether it can serve, and with LAUREL_LOG_FORMAT=json every log line is a JSON object naming the
request or the record it concerns."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.infra import Namespace
from tests.support.kafka import produce
from tests.support.processes import LaurelProcesses, running
from tests.support.receiver import Receiver, receiving
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

ENV = {
    "LAUREL_SCHEDULER_INTERVAL_S": "0",  # no ticks: every command applied is one this test sent
    "LAUREL_LOG_FORMAT": "json",
    "LAUREL_ACCESS_LOG": "true",
    "LAUREL_WEBHOOK_ALLOWED_CIDRS": "127.0.0.0/8",
}
EVENT_ROUTE = "/v1/metrics/{key}/event"
ROLES = ("api", "processor", "ranker", "webhooks")


@pytest.fixture(scope="module")
def laurel(module_namespace: Namespace) -> Iterator[LaurelProcesses]:
    with running(module_namespace, ENV, webhooks=True) as procs:
        yield procs


@pytest.fixture(scope="module")
def admin(laurel: LaurelProcesses) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=laurel.base_url, headers=laurel.headers, timeout=30) as client:
        made = client.post("/admin/v1/metrics", json=[{"name": "Lessons", "key": "lessons"}])
        assert made.status_code == 201, made.text
        made = client.post(
            "/admin/v1/achievements",
            json=[
                {
                    "name": "First lesson",
                    "key": "first",
                    "trigger": "metric",
                    "status": "active",
                    "metricId": made.json()["created"][0]["id"],
                    "metricValue": 1,
                }
            ],
        )
        assert made.status_code == 201, made.text
        yield client


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with receiving() as found:
        yield found


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape by (name, labels)."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(
    scrape: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return scrape.get((name, frozenset(labels.items())), 0.0)


def scrape(
    laurel: LaurelProcesses, role: str
) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return samples(laurel.scrape(role))


def lags(laurel: LaurelProcesses) -> dict[str, float]:
    found = scrape(laurel, "processor")
    return {
        dict(labels)["partition"]: v
        for (name, labels), v in found.items()
        if name == "laurel_processor_lag_records"
    }


def event(admin: httpx.Client, user: str, *, wait: bool = True) -> httpx.Response:
    headers = {} if wait else {"Prefer": "respond-async"}
    return admin.post(
        "/v1/metrics/lessons/event", json={"user": {"id": user}, "value": 1}, headers=headers
    )


def test_every_process_answers_its_probes(laurel: LaurelProcesses, admin: httpx.Client) -> None:
    for role in ROLES:
        live = httpx.get(laurel.ops_url(role) + "/health/live", timeout=10)
        assert live.status_code == 200, (role, live.text)
        ready = httpx.get(laurel.ops_url(role) + "/health/ready", timeout=10)
        assert ready.status_code == 200, (role, ready.text)
        assert ready.json() == {"status": "ready"}


def test_counters_move_by_exactly_the_traffic(
    laurel: LaurelProcesses, admin: httpx.Client, receiver: Receiver, module_namespace: Namespace
) -> None:
    hook = admin.post(
        "/admin/v1/webhooks",
        json=[{"url": receiver.url("/ops"), "events": ["achievement.completed"]}],
    )
    assert hook.status_code == 201, hook.text
    wait_for(lambda: lags(laurel) and not any(lags(laurel).values()), 60, "an idle processor")
    before = {role: scrape(laurel, role) for role in ROLES}

    users = [f"ops-{uuid.uuid4().hex[:6]}-{i}" for i in range(12)]
    synchronous = [event(admin, user) for user in users[:8]]
    asynchronous = [event(admin, user, wait=False) for user in users[8:]]
    assert [r.status_code for r in synchronous] == [201] * 8
    assert [r.status_code for r in asynchronous] == [202] * 4
    asyncio.run(
        produce(
            module_namespace.bootstrap_servers,
            module_namespace.commands_topic,
            [(b"k", b"\xff not a command")],
        )
    )
    sent, dead = len(users), 1

    def applied() -> float:
        now = scrape(laurel, "processor")
        return value(now, "laurel_processor_commands_applied_total") - value(
            before["processor"], "laurel_processor_commands_applied_total"
        )

    wait_for(lambda: applied() >= sent, 60, "every event applied")
    wait_for(lambda: not any(lags(laurel).values()), 60, "the lag to return to 0")
    wait_for(lambda: len(receiver.at("/ops")) >= sent, 60, "every achievement delivered")
    after = {role: scrape(laurel, role) for role in ROLES}

    def moved(role: str, name: str, **labels: str) -> float:
        return value(after[role], name, **labels) - value(before[role], name, **labels)

    # the api: each event counted once under its route template and status, and timed
    assert (
        moved("api", "laurel_http_requests_total", method="POST", route=EVENT_ROUTE, status="201")
        == 8
    )
    assert (
        moved("api", "laurel_http_requests_total", method="POST", route=EVENT_ROUTE, status="202")
        == 4
    )
    assert (
        moved("api", "laurel_http_request_duration_seconds_count", method="POST", route=EVENT_ROUTE)
        == 12
    )
    assert moved("api", "laurel_sync_timeouts_total") == 0
    assert value(after["api"], "laurel_sync_waiters") == 0
    assert not any("ops-" in str(labels) for _, labels in after["api"])  # no user in a label

    # the processor: applied commands equal events sent; the bad record dead-lettered once
    assert moved("processor", "laurel_processor_commands_applied_total") == sent
    assert moved("processor", "laurel_processor_dead_letters_total") == dead
    assert moved("processor", "laurel_processor_records_total") == sent + dead
    assert moved("processor", "laurel_processor_records_skipped_total") == 0
    assert moved("processor", "laurel_processor_batch_records_sum") == sent + dead
    assert (
        value(after["processor"], "laurel_processor_partitions_assigned")
        == module_namespace.partitions
    )
    assert value(after["processor"], "laurel_processor_last_batch_timestamp_seconds") > 0

    # the webhooks process: one successful attempt per achievement, nothing pending
    assert moved("webhooks", "laurel_webhook_attempts_total", state="delivered") == sent
    assert moved("webhooks", "laurel_webhook_delivery_attempts_count") == sent

    # the ranker leads and runs its rounds
    assert value(after["ranker"], "laurel_ranker_leader") == 1
    assert value(after["ranker"], "laurel_ranker_rounds_total", part="ranker", result="ok") > 0

    # a later batch does not count the dead letter again
    assert event(admin, users[0]).status_code == 201
    wait_for(lambda: applied() >= sent + 1, 60, "one more event applied")
    final = scrape(laurel, "processor")
    assert (
        value(final, "laurel_processor_dead_letters_total")
        - value(before["processor"], "laurel_processor_dead_letters_total")
        == dead
    )


def json_lines(text: str) -> list[dict[str, Any]]:
    lines = [line for line in text.splitlines() if line.strip()]
    return [orjson.loads(line) for line in lines]


def test_json_logs_name_the_request_and_the_record(
    laurel: LaurelProcesses, admin: httpx.Client, module_namespace: Namespace
) -> None:
    answer = admin.get("/v1/users/nobody-here", headers={"X-Request-ID": "req-ops-42"})
    assert answer.status_code == 404
    assert answer.headers["X-Request-ID"] == "req-ops-42"
    assert len(admin.get("/admin/v1/metrics").headers["X-Request-ID"]) == 32  # one is made

    def access_line() -> dict[str, Any] | None:
        lines = json_lines((laurel.home / "api.log").read_text())
        return next((line for line in lines if line.get("request_id") == "req-ops-42"), None)

    line = wait_for(access_line, 30, "the request's access line")
    assert line is not None
    assert line["logger"] == "laurel.access"
    assert line["route"] == "/v1/users/{id}"
    assert line["status"] == 404
    assert line["message"].startswith("GET /v1/users/nobody-here 404 ")

    asyncio.run(
        produce(
            module_namespace.bootstrap_servers,
            module_namespace.commands_topic,
            [(b"k", b"garbage")],
            partition=0,
        )
    )

    def dead_letter_line() -> dict[str, Any] | None:
        lines = json_lines(laurel.processor_log())
        return next(
            (x for x in lines if "undecodable" in x["message"] and x.get("partition") == 0), None
        )

    line = wait_for(dead_letter_line, 60, "the processor's dead-letter line")
    assert line is not None
    assert line["level"] == "warning"
    assert isinstance(line["offset"], int)
    for log in ("ranker.log", "webhooks-1.log", "api.log"):  # every line of every process is JSON
        assert json_lines((laurel.home / log).read_text())
