"""The Admin API for webhooks against a running Laurel: endpoints per tenant, their secrets,
rotation with both signatures during the overlap, test pings, the deliveries log and replays."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.support.infra import Namespace
from tests.support.processes import LaurelProcesses, running
from tests.support.receiver import Receiver, receiving
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

ENV = {"LAUREL_WEBHOOK_ALLOWED_CIDRS": "127.0.0.1/32", "LAUREL_WEBHOOK_RETRY_SCHEDULE": "0.2"}


@pytest.fixture(scope="module")
def laurel(module_namespace: Namespace) -> Iterator[LaurelProcesses]:
    with running(module_namespace, ENV, webhooks=True) as procs:
        yield procs


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with receiving() as found:
        yield found


@pytest.fixture(scope="module")
def admin(laurel: LaurelProcesses) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=f"{laurel.base_url}/admin/v1", headers=laurel.headers, timeout=30
    ) as client:
        yield client


def create(admin: httpx.Client, **item: Any) -> dict[str, Any]:
    answer = admin.post("/webhooks", json=[item])
    assert answer.status_code == 201, answer.text
    assert answer.json()["issues"] == []
    return dict(answer.json()["created"][0])


def test_endpoints_are_created_listed_changed_and_deleted_per_tenant(
    admin: httpx.Client, receiver: Receiver
) -> None:
    first = create(admin, url=receiver.url("/a"), events=["streak.lost", "achievement.completed"])
    assert first["secret"].startswith("whsec_")
    assert first["events"] == ["achievement.completed", "streak.lost"]  # Trophy's order
    assert first["status"] == "active"
    second = create(admin, url=receiver.url("/b"), description="CRM", status="disabled")
    assert len(second["events"]) == 18  # every Trophy type by default

    listed = admin.get("/webhooks").json()
    assert [e["id"] for e in listed] == [first["id"], second["id"]]
    assert all("secret" not in e for e in listed)  # shown on create and rotation only
    assert admin.get(f"/webhooks/{first['id']}").json()["url"] == receiver.url("/a")

    changed = admin.patch(f"/webhooks/{second['id']}", json={"status": "active", "events": None})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["status"], len(changed.json()["events"])) == ("active", 18)
    refused = admin.patch(f"/webhooks/{second['id']}", json={"secret": "mine"})
    assert refused.status_code == 422
    assert "secret cannot change" in refused.json()["error"]
    loopback = admin.patch(f"/webhooks/{second['id']}", json={"url": "http://127.0.0.2/x"})
    assert loopback.status_code == 422
    assert "loopback address 127.0.0.2" in loopback.json()["error"]

    admin.post("/tenants", json=[{"customerId": "other", "name": "Other"}])
    elsewhere = admin.get("/webhooks", headers={"Tenant-ID": "other"})
    assert elsewhere.json() == []
    hidden = admin.get(f"/webhooks/{first['id']}", headers={"Tenant-ID": "other"})
    assert hidden.status_code == 404

    missing = "00000000-0000-0000-0000-000000000000"
    deleted = admin.delete("/webhooks", params={"ids": f"{second['id']},{missing}"}).json()
    assert deleted["deleted"] == [{"id": second["id"]}]
    assert [i["id"] for i in deleted["issues"]] == [missing]
    assert admin.get(f"/webhooks/{second['id']}").status_code == 404


def verifies(secret: str, request_body: bytes, headers: dict[str, str]) -> bool:
    try:
        Webhook(secret).verify(request_body, headers)
    except WebhookVerificationError:
        return False
    return True


def test_rotation_signs_with_both_secrets_during_the_overlap(
    admin: httpx.Client, receiver: Receiver
) -> None:
    hook = create(admin, url=receiver.url("/rotating"))
    old = hook["secret"]
    rotated = admin.post(f"/webhooks/{hook['id']}/rotate-secret").json()
    new = rotated["secret"]
    assert new != old
    assert new.startswith("whsec_")
    expires = datetime.fromisoformat(rotated["previousSecretExpires"].replace("Z", "+00:00"))
    assert abs(expires - (datetime.now(UTC) + timedelta(hours=24))) < timedelta(minutes=5)

    ping = admin.post(f"/webhooks/{hook['id']}/test").json()["messageId"]
    receiver.wait(lambda: len(receiver.at("/rotating")) == 1, 30, "the signed ping")
    (request,) = receiver.at("/rotating")
    assert request.id == ping
    assert request.json["type"] == "webhook.test"
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    assert verifies(new, request.body, request.headers)
    assert verifies(old, request.body, request.headers)
    digest = hmac.new(new.encode(), request.body, hashlib.sha256).digest()
    assert request.headers["x-trophy-signature"] == base64.b64encode(digest).decode()

    def logged() -> list[dict[str, Any]]:
        return list(admin.get(f"/webhooks/{hook['id']}/deliveries").json())

    wait_for(lambda: [d["state"] for d in logged()] == ["delivered"], 30, "the ping logged")
    (entry,) = logged()
    assert (entry["messageId"], entry["attempts"], entry["lastStatusCode"]) == (ping, 1, 200)
    assert entry["latencyMs"] is not None


def test_replay_delivers_the_same_message_ids_again(
    admin: httpx.Client, receiver: Receiver
) -> None:
    hook = create(admin, url=receiver.on("/replayed", 500, 500))
    ping = admin.post(f"/webhooks/{hook['id']}/test").json()["messageId"]

    def failed() -> list[dict[str, Any]]:
        return list(admin.get(f"/webhooks/{hook['id']}/deliveries?state=failed").json())

    wait_for(lambda: len(failed()) == 1, 30, "the ping to fail for good (one retry)")
    assert failed()[0]["lastError"] == "HTTP 500"
    again = admin.post(f"/webhooks/{hook['id']}/replay", json={"messageIds": [ping]})
    assert again.json() == {"queued": 1}
    receiver.wait(lambda: len(receiver.at("/replayed")) == 3, 30, "the replayed ping")
    assert {r.id for r in receiver.at("/replayed")} == {ping}

    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert admin.post(f"/webhooks/{hook['id']}/replay", json={"since": since}).json() == {
        "queued": 1
    }
    receiver.wait(lambda: len(receiver.at("/replayed")) == 4, 30, "the ping replayed by time")
    for body, names in [
        ({}, "give messageIds, or since"),
        ({"since": "yesterday"}, "since must be an ISO 8601 instant"),
        ({"since": since, "messageIds": [ping]}, "not both"),
    ]:
        refused = admin.post(f"/webhooks/{hook['id']}/replay", json=body)
        assert refused.status_code == 422
        assert names in refused.json()["error"]
