"""Laurel on a three-node Kafka cluster: topics replicated three times with two in sync, and a
broker SIGKILLed while events flow over HTTP and from a direct producer loses no event that
was acknowledged, counts none twice, and processing goes on."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from ingest.contract import RecordMetricEvent, UserPatch, decode, encode, record_key
from ingest.ids import new_command_id
from laurel.stack.kafka import KafkaCluster
from tests.support.config import create_metric
from tests.support.infra import Infra, Namespace, kafka_cluster, new_namespace
from tests.support.kafka import read_all
from tests.support.processes import LaurelProcesses, running
from tests.support.reference import (
    active_query,
    projected_totals,
    reference_fold,
    reference_totals,
    wait_until_applied,
)
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

USERS = [f"c-{i}" for i in range(12)]
PER_PHASE = 60
"""Events each sender gets acknowledged before the kill, and again after it."""


@pytest.fixture(scope="module")
def cluster() -> Iterator[KafkaCluster]:
    with kafka_cluster(3) as found:
        yield found


@pytest.fixture(scope="module")
def ns(infra: Infra, cluster: KafkaCluster) -> Namespace:
    return new_namespace(infra, partitions=6, bootstrap_servers=cluster.bootstrap)


@pytest.fixture(scope="module")
def laurel(ns: Namespace) -> Iterator[LaurelProcesses]:
    with running(ns, {"LAUREL_SCHEDULER_INTERVAL_S": "0"}) as procs:
        yield procs


async def topic_settings(bootstrap: str, topic: str) -> tuple[set[int], str]:
    """The replica counts of the topic's partitions, and its min.insync.replicas."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
        replicas = {len(p["replicas"]) for t in described for p in t["partitions"]}
        configs = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        entries = {e[0]: e[1] for r in configs for res in r.resources for e in res[4]}
        return replicas, entries["min.insync.replicas"]
    finally:
        await admin.close()


async def leader_counts(bootstrap: str, topic: str) -> Counter[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
        return Counter(p["leader"] for t in described for p in t["partitions"])
    finally:
        await admin.close()


class Senders:
    """Events over HTTP (synchronous: a 2xx means decided) and straight to the topic (acks=all,
    idempotent), each counting what was acknowledged; failures are retried as new events."""

    def __init__(self, laurel: LaurelProcesses, ns: Namespace) -> None:
        self.laurel, self.ns = laurel, ns
        self.http_acked: list[str] = []
        self.direct_acked: list[str] = []
        self.failures = 0
        self.stop = threading.Event()

    def http(self) -> None:
        with httpx.Client(
            base_url=self.laurel.base_url, headers=self.laurel.headers, timeout=30
        ) as client:
            n = 0
            while not self.stop.is_set():
                user = USERS[n % len(USERS)]
                n += 1
                try:
                    answer = client.post(
                        "/v1/metrics/steps/event", json={"user": {"id": user}, "value": 1}
                    )
                except httpx.HTTPError:
                    self.failures += 1
                    continue
                if answer.status_code in (200, 201, 202):
                    self.http_acked.append(answer.json()["eventId"])
                else:
                    self.failures += 1

    async def direct(self) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.ns.bootstrap_servers,
            enable_idempotence=True,
            acks="all",
            request_timeout_ms=20_000,
        )
        await producer.start()
        try:
            n = 0
            while not self.stop.is_set():
                user = USERS[n % len(USERS)]
                n += 1
                command = RecordMetricEvent(
                    id=new_command_id(),
                    tenant="",
                    user_id=user,
                    received_at=datetime.now(UTC),
                    metric_key="steps",
                    value=1,
                    attributes={},
                    user=UserPatch(),
                )
                try:
                    await producer.send_and_wait(
                        self.ns.commands_topic, encode(command), key=record_key("", user)
                    )
                except Exception:
                    self.failures += 1
                    continue
                self.direct_acked.append(str(command.id))
        finally:
            await producer.stop()

    def both_reached(self, count: int) -> bool:
        return len(self.http_acked) >= count and len(self.direct_acked) >= count


def test_a_broker_killed_under_load_loses_and_doubles_nothing(
    cluster: KafkaCluster, ns: Namespace, laurel: LaurelProcesses
) -> None:
    replicas, min_insync = asyncio.run(topic_settings(ns.bootstrap_servers, ns.commands_topic))
    assert replicas == {3}
    assert min_insync == "2"
    create_metric(ns.database_url, "steps")

    senders = Senders(laurel, ns)
    http = threading.Thread(target=senders.http)
    direct = threading.Thread(target=lambda: asyncio.run(senders.direct()))
    http.start()
    direct.start()
    try:
        wait_for(lambda: senders.both_reached(PER_PHASE), 120, "events before the kill")
        busiest = asyncio.run(leader_counts(ns.bootstrap_servers, ns.commands_topic))
        victim = next(n for n in cluster.nodes if n.node_id == busiest.most_common(1)[0][0])
        pid = victim.process.pid()
        assert pid is not None
        os.killpg(pid, signal.SIGKILL)
        killed_at = (len(senders.http_acked), len(senders.direct_acked))
        wait_for(
            lambda: senders.both_reached(max(killed_at) + PER_PHASE),
            180,
            "events acknowledged after the kill",
        )
    finally:
        senders.stop.set()
        http.join(60)
        direct.join(60)
    assert not victim.running()

    wait_until_applied(ns)
    decided = {
        str(command_id)
        for (command_id,) in active_query(
            ns.database_url, "SELECT command_id FROM command_outcomes"
        )
    }
    acked = senders.http_acked + senders.direct_acked
    assert len(acked) == len(set(acked))
    assert set(acked) <= decided  # nothing acknowledged was lost

    records = asyncio.run(read_all(ns.bootstrap_servers, ns.commands_topic))
    on_topic: dict[str, set[uuid.UUID]] = {}
    for record, _ in records:
        command = decode(record.key, record.value)
        on_topic.setdefault(command.user_id, set()).add(command.id)
    totals = {key[1]: total for (key, _), total in projected_totals(ns.database_url).items()}
    # every event counted once: a user's total is the number of distinct events on the topic
    assert totals == {user: float(len(ids)) for user, ids in on_topic.items()}
    assert sum(totals.values()) >= len(acked)
    reference = asyncio.run(
        reference_fold(ns.bootstrap_servers, ns.commands_topic, ns.database_url)
    )
    assert reference_totals(reference) == projected_totals(ns.database_url)
