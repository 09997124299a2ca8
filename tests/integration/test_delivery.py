"""Answers that do not wait, and shutdowns that must not lose what was not committed."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import psycopg
import pytest

from tests.support.infra import Namespace
from tests.support.processes import LaurelProcesses
from tests.support.reference import projected_totals
from tests.support.waiting import wait_for, wait_for_change

pytestmark = pytest.mark.integration


def test_pending_answer_then_the_outcome_by_event_id(namespace: Namespace) -> None:
    procs = LaurelProcesses(namespace, extra_env={"LAUREL_SYNC_TIMEOUT_S": "0.5"})
    try:
        procs.start_api()  # no processor yet: nothing can be decided
        api = httpx.Client(base_url=procs.base_url, headers=procs.headers, timeout=30)
        assert api.post("/admin/v1/metrics", json=[{"name": "K", "key": "k"}]).status_code == 201
        waited = api.post("/v1/metrics/k/event", json={"user": {"id": "w"}, "value": 4})
        assert waited.status_code == 202
        assert waited.json()["status"] == "pending"
        event_id = waited.json()["eventId"]
        assert waited.json()["outcome"] == f"/v1/events/{event_id}"
        quick = api.post(
            "/v1/metrics/k/event",
            headers={"Prefer": "respond-async"},
            json={"user": {"id": "w"}, "value": 1},
        )
        assert quick.status_code == 202
        assert api.get(f"/v1/events/{event_id}").status_code == 202

        procs.start_processor()

        ids = (event_id, quick.json()["eventId"])

        def decided() -> list[httpx.Response] | None:
            # The two events may be folded in different batches: wait for both outcomes.
            responses = [api.get(f"/v1/events/{i}") for i in ids]
            return responses if all(r.status_code == 200 for r in responses) else None

        outcomes = wait_for_change(namespace.database_url, decided, 60, "both outcomes")
        assert outcomes is not None
        outcome, later = outcomes
        assert outcome.json()["eventId"] == event_id
        assert outcome.json()["total"] == 4
        assert later.json()["total"] == 5
        assert api.get("/v1/users/w/metrics/k").json()["current"] == 5
    finally:
        procs.stop()


def processor_waits_on_a_lock(database_url: str) -> bool:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        ).fetchone()
    return bool(row and row[0] > 0)


def test_sigterm_during_a_blocked_batch_loses_nothing(namespace: Namespace) -> None:
    """Faust acknowledges a batch's events when its processing is cancelled; the processor's
    hold on each message must keep those offsets from being committed."""
    procs = LaurelProcesses(namespace)
    try:
        procs.start_api()
        procs.start_processor()
        api = httpx.Client(base_url=procs.base_url, headers=procs.headers, timeout=30)
        api.post("/admin/v1/metrics", json=[{"name": "S", "key": "s"}])
        assert (
            api.post("/v1/metrics/s/event", json={"user": {"id": "s0"}, "value": 1}).status_code
            == 201
        )
        with psycopg.connect(namespace.database_url) as blocker:
            blocker.execute("LOCK TABLE laurel_p1.checkpoints IN ACCESS EXCLUSIVE MODE")
            for i in range(50):
                response = api.post(
                    "/v1/metrics/s/event",
                    headers={"Prefer": "respond-async"},
                    json={"user": {"id": f"s{i % 5}"}, "value": 1},
                )
                assert response.status_code == 202
            wait_for(
                lambda: processor_waits_on_a_lock(namespace.database_url),
                60,
                "the processor to block on the lock",
            )
            assert procs.terminate_processor() is not None
            blocker.rollback()
        procs.start_processor()

        def all_counted() -> bool:
            totals = projected_totals(namespace.database_url)
            return sum(totals.values()) == 51

        wait_for_change(namespace.database_url, all_counted, 90, "all 51 events")
        totals = projected_totals(namespace.database_url)
        assert sorted(totals.values()) == [10.0, 10.0, 10.0, 10.0, 11.0]
    finally:
        procs.stop()


def test_a_database_outage_answers_503_and_the_api_recovers(namespace: Namespace) -> None:
    procs = LaurelProcesses(namespace)
    dbname = psycopg.conninfo.conninfo_to_dict(namespace.database_url)["dbname"]
    admin_url = psycopg.conninfo.make_conninfo(namespace.database_url, dbname="postgres")
    try:
        procs.start_api()
        api = httpx.Client(base_url=procs.base_url, headers=procs.headers, timeout=60)
        assert api.get("/admin/v1/metrics").status_code == 200
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS false')
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (dbname,),
            )
            down = api.get("/admin/v1/metrics")
            assert down.status_code == 503, down.text
            assert down.headers["Retry-After"] == "1"
            assert "retry" in down.json()["error"]
            admin.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS true')
        wait_for(lambda: api.get("/admin/v1/metrics").status_code == 200, 60, "recovery")
    finally:
        procs.stop()


def test_rate_limits_and_body_limits(namespace: Namespace) -> None:
    procs = LaurelProcesses(
        namespace,
        extra_env={
            "LAUREL_RATE_LIMIT_PER_S": "0.2",
            "LAUREL_RATE_LIMIT_BURST": "3",
            "LAUREL_MAX_BODY_BYTES": "2048",
        },
    )
    try:
        procs.start_api()
        api = httpx.Client(base_url=procs.base_url, headers=procs.headers, timeout=30)
        big = b'{"user": {"id": "u", "name": "' + b"x" * 4000 + b'"}, "value": 1}'
        assert api.post("/v1/metrics/m/event", content=big).status_code == 413  # Content-Length

        def chunks() -> Iterator[bytes]:
            yield big[:1500]
            yield big[1500:]

        streamed = api.post("/v1/metrics/m/event", content=chunks())  # chunked: counted
        assert streamed.status_code == 413
        assert "larger than 2048" in streamed.json()["error"]

        # The streamed request spent the first of three tokens; two more pass, then 429.
        assert [api.get("/admin/v1/metrics").status_code for _ in range(2)] == [200] * 2
        limited = api.get("/admin/v1/metrics")
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) >= 1
        assert "rate limit" in limited.json()["error"]
    finally:
        procs.stop()
