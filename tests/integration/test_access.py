"""Keys and tenants: every boundary is tried, and none gives way."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.processes import LaurelProcesses

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def admin(laurel: LaurelProcesses) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=laurel.base_url, headers=laurel.headers, timeout=30) as client:
        yield client


def app_key(admin: httpx.Client, user_id: str, tenant: str | None = None) -> tuple[str, str]:
    headers = {"Tenant-ID": tenant} if tenant else {}
    created = admin.post(
        "/admin/v1/application-api-keys", json=[{"userId": user_id}], headers=headers
    )
    assert created.status_code == 201, created.text
    item = created.json()["created"][0]
    assert item["userId"] == user_id
    assert item["key"].startswith(item["prefix"] + ".")
    assert item["prefix"].startswith("app_")
    return item["id"], item["key"]


def test_missing_malformed_and_unknown_keys_answer_401(laurel: LaurelProcesses) -> None:
    anonymous = httpx.Client(base_url=laurel.base_url, timeout=30)
    assert anonymous.get("/health").status_code == 200
    for headers in (
        {},
        {"X-API-KEY": ""},
        {"X-API-KEY": "no-dot"},
        {"X-API-KEY": "abcdefgh.wrong-secret"},
        {"X-API-KEY": laurel.admin_key + "x"},
    ):
        for method, path in (
            ("GET", "/v1/users/x"),
            ("GET", "/admin/v1/metrics"),
            ("POST", "/v1/metrics/m/event"),
            ("GET", "/admin/v1/tenants"),
        ):
            response = anonymous.request(method, path, headers=headers, json={})
            assert response.status_code == 401, (headers, path, response.text)
            assert "error" in response.json()


def test_application_keys_act_only_for_their_user(
    admin: httpx.Client, laurel: LaurelProcesses
) -> None:
    admin.post("/admin/v1/metrics", json=[{"name": "Reps", "key": "reps"}])
    bob_event = admin.post("/v1/metrics/reps/event", json={"user": {"id": "bob"}, "value": 9})
    assert bob_event.status_code == 201
    key_id, key = app_key(admin, "alice")
    alice = httpx.Client(base_url=laurel.base_url, headers={"X-API-KEY": key}, timeout=30)

    assert (
        alice.post("/v1/metrics/reps/event", json={"user": {"id": "alice"}, "value": 1}).status_code
        == 201
    )
    assert alice.get("/v1/users/alice").status_code == 200
    assert alice.get("/v1/users/alice/metrics/reps").json()["current"] == 1
    forbidden = [
        alice.post("/v1/metrics/reps/event", json={"user": {"id": "bob"}, "value": 1}),
        alice.get("/v1/users/bob"),
        alice.get("/v1/users/bob/metrics"),
        alice.get("/v1/users/bob/metrics/reps"),
        alice.put("/v1/users/bob", json={"name": "Mallory"}),
        alice.patch("/v1/users/bob", json={"name": "Mallory"}),
        alice.post("/v1/users", json={"id": "bob"}),
        alice.get("/admin/v1/metrics"),
        alice.post("/admin/v1/application-api-keys", json=[{"userId": "bob"}]),
        alice.get("/v1/users/alice", headers={"Tenant-ID": "elsewhere"}),
    ]
    assert [r.status_code for r in forbidden] == [403] * len(forbidden), [r.text for r in forbidden]
    # Another user's event outcome is not disclosed.
    assert alice.get(f"/v1/events/{bob_event.json()['eventId']}").status_code == 202
    assert admin.get("/v1/users/bob/metrics/reps").json()["current"] == 9

    deleted = admin.delete("/admin/v1/application-api-keys", params={"ids": key_id})
    assert deleted.json()["deleted"] == [{"id": key_id}]
    assert alice.get("/v1/users/alice").status_code == 401


def test_tenants_never_see_each_other(admin: httpx.Client, laurel: LaurelProcesses) -> None:
    acme, globex = {"Tenant-ID": "acme"}, {"Tenant-ID": "globex"}
    unknown = admin.get("/admin/v1/metrics", headers=acme)
    assert unknown.status_code == 404
    assert "POST /admin/v1/tenants" in unknown.json()["error"]
    created = admin.post(
        "/admin/v1/tenants",
        json=[
            {"customerId": "acme", "name": "Acme"},
            {"customerId": "globex", "name": "Globex"},
            {"customerId": "acme", "name": "Again"},
        ],
    )
    assert created.status_code == 201
    assert [t["customerId"] for t in created.json()["created"]] == ["acme", "globex"]
    assert created.json()["issues"][0]["index"] == 2
    globex_id = created.json()["created"][1]["id"]

    acme_metric = admin.post(
        "/admin/v1/metrics", json=[{"name": "Steps", "key": "steps"}], headers=acme
    ).json()["created"][0]
    # Configuration is per tenant: globex has no "steps" yet.
    assert (
        admin.post(
            "/v1/metrics/steps/event", json={"user": {"id": "sam"}, "value": 7}, headers=globex
        ).status_code
        == 404
    )
    globex_metric = admin.post(
        "/admin/v1/metrics", json=[{"name": "Steps", "key": "steps"}], headers=globex
    ).json()["created"][0]
    assert globex_metric["id"] != acme_metric["id"]

    acme_event = admin.post(
        "/v1/metrics/steps/event", json={"user": {"id": "sam"}, "value": 5}, headers=acme
    )
    assert acme_event.json()["total"] == 5
    assert (
        admin.post(
            "/v1/metrics/steps/event", json={"user": {"id": "sam"}, "value": 7}, headers=globex
        ).json()["total"]
        == 7
    )
    assert admin.get("/v1/users/sam/metrics/steps", headers=acme).json()["current"] == 5
    assert admin.get("/v1/users/sam/metrics/steps", headers=globex).json()["current"] == 7
    assert admin.get("/v1/users/sam").status_code == 404  # the default tenant has no sam
    assert (
        admin.get(f"/v1/events/{acme_event.json()['eventId']}", headers=globex).status_code == 202
    )

    # Admin reads and writes stay inside the tenant.
    assert [m["key"] for m in admin.get("/admin/v1/metrics", headers=acme).json()] == ["steps"]
    assert admin.get(f"/admin/v1/metrics/{globex_metric['id']}", headers=acme).status_code == 404
    patch = admin.patch(
        "/admin/v1/metrics", json=[{"id": globex_metric["id"], "name": "Hacked"}], headers=acme
    )
    assert patch.json()["updated"] == []
    assert (
        admin.delete("/admin/v1/metrics", params={"ids": globex_metric["id"]}, headers=acme).json()[
            "deleted"
        ]
        == []
    )
    assert (
        admin.get(f"/admin/v1/metrics/{globex_metric['id']}", headers=globex).json()["name"]
        == "Steps"
    )

    # An application key lives in its tenant.
    _, key = app_key(admin, "sam", tenant="acme")
    sam = httpx.Client(base_url=laurel.base_url, headers={"X-API-KEY": key}, timeout=30)
    assert sam.get("/v1/users/sam/metrics/steps").json()["current"] == 5
    assert sam.get("/v1/users/sam/metrics/steps", headers=globex).status_code == 403

    # Archiving a tenant closes it; reactivating opens it again with its data.
    assert admin.delete("/admin/v1/tenants", params={"ids": globex_id}).json()["deleted"]
    assert admin.get("/v1/users/sam", headers=globex).status_code == 404
    admin.patch("/admin/v1/tenants", json=[{"id": globex_id, "status": "active"}])
    assert admin.get("/v1/users/sam/metrics/steps", headers=globex).json()["current"] == 7
    listed = admin.get("/admin/v1/tenants", params={"limit": 100}).json()
    assert {t["customerId"]: t["status"] for t in listed} == {"acme": "active", "globex": "active"}
