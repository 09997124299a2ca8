"""Trophy's official Python SDK (1.27) against a running Laurel, changed only in its base URLs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from trophy import (
    BatchMetricEvent,
    BatchMetricEventUser,
    CreateApplicationKeyRequestItem,
    CreateAttributeRequestItem,
    CreateMetricRequestItem,
    CreateTenantRequestItem,
    UpdateAttributeRequestItem,
    UpdateMetricRequestItem,
    UpdateTenantRequestItem,
    UpsertedUser,
)
from trophy.client import TrophyApi
from trophy.core.api_error import ApiError
from trophy.environment import TrophyApiEnvironment

from tests.support.processes import LaurelProcesses
from tests.support.waiting import wait_for_change

pytestmark = pytest.mark.e2e


def sdk(laurel: LaurelProcesses, api_key: str) -> TrophyApi:
    """The official client, pointed at Laurel only by its base URLs."""
    return TrophyApi(
        api_key=api_key,
        environment=TrophyApiEnvironment(
            api=f"{laurel.base_url}/v1", admin=f"{laurel.base_url}/admin/v1"
        ),
        max_retries=0,
        timeout=30,
    )


@pytest.fixture(scope="module")
def client(laurel: LaurelProcesses) -> TrophyApi:
    return sdk(laurel, laurel.admin_key)


def test_admin_configuration_round_trip(client: TrophyApi) -> None:
    created = client.admin.metrics.create(
        request=[
            CreateMetricRequestItem(name="Words", key="words"),
            CreateMetricRequestItem(
                name="Revenue", key="revenue", unit_type="currency", units="USD"
            ),
            CreateMetricRequestItem(name="Bad", key="bad key!"),
        ]
    )
    assert [m.key for m in created.created] == ["words", "revenue"]
    assert len(created.issues) == 1
    assert created.issues[0].index == 2
    words = created.created[0]

    assert client.admin.metrics.get(id=words.id).name == "Words"
    updated = client.admin.metrics.update(
        request=[UpdateMetricRequestItem(id=words.id, name="Words written")]
    )
    assert updated.updated[0].name == "Words written"
    assert "words" in [m.key for m in client.admin.metrics.list(limit=100)]

    attrs = client.admin.attributes.create(
        request=[
            CreateAttributeRequestItem(name="Plan", key="plan", type="user"),
            CreateAttributeRequestItem(name="Device", key="device", type="event"),
        ]
    )
    assert {a.key: a.type for a in attrs.created} == {"plan": "user", "device": "event"}
    renamed = client.admin.attributes.update(
        request=[UpdateAttributeRequestItem(id=attrs.created[0].id, name="Subscription plan")]
    )
    assert renamed.updated[0].name == "Subscription plan"
    assert client.admin.attributes.get(id=attrs.created[1].id).key == "device"

    revenue = created.created[1]
    deleted = client.admin.metrics.delete(ids=[revenue.id])
    assert [d.id for d in deleted.deleted] == [revenue.id]
    with pytest.raises(ApiError) as missing:
        client.admin.metrics.get(id=revenue.id)
    assert missing.value.status_code == 404
    with pytest.raises(ApiError) as deleted_metric:
        client.metrics.event(key="revenue", user=UpsertedUser(id="late"), value=1)
    assert deleted_metric.value.status_code == 404


def test_events_users_and_reads(client: TrophyApi) -> None:
    client.admin.metrics.create(request=[CreateMetricRequestItem(name="Pages", key="pages")])
    client.admin.attributes.create(
        request=[
            CreateAttributeRequestItem(name="Team", key="team", type="user"),
            CreateAttributeRequestItem(name="Source", key="source", type="event"),
        ]
    )
    created = client.users.create(
        id="sdk-ann", name="Ann", tz="America/New_York", attributes={"team": "red"}
    )
    assert created.name == "Ann"
    assert created.attributes == {"team": "red"}

    first = client.metrics.event(
        key="pages", user=UpsertedUser(id="sdk-ann"), value=10, attributes={"source": "web"}
    )
    assert first.total == 10
    assert first.achievements == []
    assert first.current_streak.length == 0
    key = str(uuid.uuid4())
    second = client.metrics.event(
        key="pages", user=UpsertedUser(id="sdk-ann"), value=2.5, idempotency_key=key
    )
    assert second.total == 12.5
    assert second.idempotency_key == key
    assert second.idempotent_replayed is False
    repeat = client.metrics.event(
        key="pages", user=UpsertedUser(id="sdk-ann"), value=2.5, idempotency_key=key
    )
    assert repeat.total == 12.5
    assert repeat.idempotent_replayed is True

    identified = client.users.identify(id="sdk-ann", email="ann@example.com")
    assert identified.email == "ann@example.com"
    assert identified.name == "Ann"
    updated = client.users.update(id="sdk-ann", name="Ann B.")
    assert updated.name == "Ann B."
    fetched = client.users.get(id="sdk-ann")
    assert (fetched.name, fetched.email, fetched.tz) == (
        "Ann B.",
        "ann@example.com",
        "America/New_York",
    )

    metrics = client.users.all_metrics(id="sdk-ann")
    assert {m.key: m.current for m in metrics}["pages"] == 12.5
    assert client.users.single_metric(id="sdk-ann", key="pages").current == 12.5

    today = datetime.now(UTC).date().isoformat()
    summary = client.users.metric_event_summary(
        id="sdk-ann", key="pages", aggregation="daily", start_date="2026-01-01", end_date=today
    )
    assert summary[-1].total == 12.5
    assert sum(point.change for point in summary) == 12.5


def test_errors_the_sdk_sees(client: TrophyApi) -> None:
    with pytest.raises(ApiError) as unknown_user:
        client.users.update(id="nobody-" + uuid.uuid4().hex, name="x")
    assert unknown_user.value.status_code == 404
    with pytest.raises(ApiError) as unknown_metric:
        client.metrics.event(key="no-such-metric", user=UpsertedUser(id="x"), value=1)
    assert unknown_metric.value.status_code == 404
    client.admin.metrics.create(request=[CreateMetricRequestItem(name="Laps", key="laps")])
    with pytest.raises(ApiError) as bad_attribute:
        client.metrics.event(
            key="laps", user=UpsertedUser(id="x"), value=1, attributes={"undeclared": "1"}
        )
    assert bad_attribute.value.status_code == 422
    assert "undeclared" in str(bad_attribute.value.body)
    with pytest.raises(ApiError) as bad_zone:
        client.users.identify(id="x", tz="Mars/Base")
    assert bad_zone.value.status_code == 422


def test_batch_events(client: TrophyApi, laurel: LaurelProcesses) -> None:
    client.admin.metrics.create(request=[CreateMetricRequestItem(name="Miles", key="miles")])
    events = [
        BatchMetricEvent(
            key="miles",
            user=BatchMetricEventUser(id=f"runner-{i % 3}"),
            value=i,
            idempotency_key=f"run-{i}",
        )
        for i in range(30)
    ] + [
        BatchMetricEvent(
            key="miles",
            user=BatchMetricEventUser(id="runner-0"),
            value=100,
            idempotency_key="run-0",
        ),  # a repeat of the first: accepted, then ignored by the processor
        BatchMetricEvent(key="no-such-metric", user=BatchMetricEventUser(id="runner-0"), value=1),
    ]
    accepted = client.admin.metrics.batch_events(request=events)
    assert accepted.accepted == 31
    issues = getattr(accepted, "issues", None) or accepted.model_extra.get("issues")
    assert len(issues) == 1
    assert issues[0]["index"] == 31
    assert "no-such-metric" in issues[0]["message"]

    expected = {f"runner-{r}": float(sum(i for i in range(30) if i % 3 == r)) for r in range(3)}

    def totals() -> dict[str, float] | None:
        found = {}
        for user in expected:
            try:
                found[user] = client.users.single_metric(id=user, key="miles").current
            except ApiError:
                return None
        return found if found == expected else None

    assert wait_for_change(laurel.ns.database_url, totals, 60, "batch totals") == expected


def test_access_administration_through_the_sdk(client: TrophyApi, laurel: LaurelProcesses) -> None:
    tenants = client.admin.tenants.create(
        request=[CreateTenantRequestItem(customer_id="sdk-co", name="SDK Co")]
    )
    tenant = tenants.created[0]
    assert (tenant.customer_id, tenant.status) == ("sdk-co", "active")
    assert client.admin.tenants.get(id=tenant.id).name == "SDK Co"
    renamed = client.admin.tenants.update(
        request=[UpdateTenantRequestItem(id=tenant.id, name="SDK Company")]
    )
    assert renamed.updated[0].name == "SDK Company"
    assert "sdk-co" in [t.customer_id for t in client.admin.tenants.list(limit=100)]

    keys = client.admin.application_api_keys.create(
        request=[CreateApplicationKeyRequestItem(user_id="sdk-app-user")]
    )
    created = keys.created[0]
    user_client = sdk(laurel, created.key)
    assert user_client.users.identify(id="sdk-app-user", name="Me").name == "Me"
    with pytest.raises(ApiError) as other_user:
        user_client.users.get(id="sdk-ann")
    assert other_user.value.status_code == 403
    deleted = client.admin.application_api_keys.delete(ids=[created.id])
    assert [d.id for d in deleted.deleted] == [created.id]
    with pytest.raises(ApiError) as revoked:
        user_client.users.get(id="sdk-app-user")
    assert revoked.value.status_code == 401

    environments = client.admin.environments.list()
    assert [(e.key, e.priority) for e in environments] == [("production", 0)]
    assert client.admin.tenants.delete(ids=[tenant.id]).deleted[0].id == tenant.id
    assert client.admin.tenants.get(id=tenant.id).status == "archived"


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda c: c.admin.settings.get(), "not supported"),
        (lambda c: c.admin.settings.update(aggregation_period="weekly"), "not supported"),
    ],
)
def test_deliberately_absent_methods_answer_404_in_words(client: TrophyApi, call, words) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ApiError) as absent:
        call(client)
    assert absent.value.status_code == 404
    assert words in absent.value.body["error"]
