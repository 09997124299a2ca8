"""Schema-driven fuzzing of Laurel's own OpenAPI document: no input yields a 5xx, and every
response matches the document."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)

from tests.support.processes import LaurelProcesses

pytestmark = pytest.mark.integration
EXAMPLES = 25
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.fixture(scope="module")
def fuzzed(laurel: LaurelProcesses) -> LaurelProcesses:
    # Something to find: a metric, an attribute and a user in the default tenant.
    with httpx.Client(base_url=laurel.base_url, headers=laurel.headers, timeout=30) as admin:
        admin.post("/admin/v1/metrics", json=[{"name": "Fuzz", "key": "fuzz"}])
        admin.post("/admin/v1/attributes", json=[{"name": "Plan", "key": "plan", "type": "user"}])
        admin.post("/v1/metrics/fuzz/event", json={"user": {"id": "fuzzer"}, "value": 1})
    return laurel


def test_no_input_breaks_the_api(fuzzed: LaurelProcesses) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzzed.base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 20
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: Any) -> None:
            case.call_and_validate(base_url=fuzzed.base_url, headers=fuzzed.headers, checks=CHECKS)

        try:
            fuzz()
        except Exception as failure:
            raise AssertionError(f"{operation.method.upper()} {operation.path}") from failure


def test_the_document_describes_only_what_is_implemented(fuzzed: LaurelProcesses) -> None:
    document = httpx.get(f"{fuzzed.base_url}/openapi.json").json()
    paths = set(document["paths"])
    assert "/v1/metrics/{key}/event" in paths
    assert "/admin/v1/tenants" in paths
    assert {"/v1/users/{id}/streak", "/v1/streaks", "/admin/v1/streaks/settings"} <= paths
    assert {"/v1/achievements", "/v1/points/{key}", "/admin/v1/points/{system_id}/boosts"} <= paths
    assert {
        "/v1/leaderboards",
        "/v1/leaderboards/{key}",
        "/v1/users/{id}/leaderboards/{key}",
        "/admin/v1/leaderboards",
        "/admin/v1/leaderboards/{id}",
    } <= paths
    assert "/v1/users/{id}/wrapped" in paths
    assert "/admin/v1/settings" not in paths
