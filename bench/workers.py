"""The processor with 1, 2 and 3 workers in one consumer group on a 6-partition topic, in one
run.

Start the stack first (``make up``; its Kafka and PostgreSQL are used, its processor is left
alone). For each worker count, a fresh topic and consumer group: the workers start and share the
partitions (each worker's ``/metrics`` says how many it holds), then events from 2,000 users
are written straight to the topic, and the figure is events/s from the first write until the
workers' ``laurel_processor_commands_applied_total`` add up to all of them. Every event runs
the rules ``bench.processor`` configures (a daily streak and a points trigger, and two
leaderboards). On a 2-core machine that also runs Kafka and PostgreSQL the workers compete for
the same cores: the figure shows the mechanism, not a speed-up this box can give.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import httpx
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families
from tests.support.infra import Namespace
from tests.support.processes import LaurelProcesses
from tests.support.waiting import wait_for

from bench.processor import configure, records
from laurel.local import LocalStack
from laurel.settings import load_settings
from laurel.topics import ensure_topics

PARTITIONS = 6


def metric(port: int, name: str) -> float:
    """One unlabelled sample (summed over labels) of the worker serving on ``port``."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    )


async def write(bootstrap: str, topic: str, tenant: str, events: int, users: int) -> None:
    """``bench.processor``'s events, written under their keys (the partitioner spreads them)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    try:
        sent = [
            await producer.send(topic, r.value, key=r.key)
            for r in records(tenant, topic, events, users, seed=1)
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def measure(stack: LocalStack, workers: int, events: int, users: int) -> tuple[float, list[int]]:
    """Events/s with ``workers`` processors, and the partitions each held."""
    tag = uuid.uuid4().hex[:8]
    ns = Namespace(
        bootstrap_servers=stack.bootstrap,
        database_url=stack.database_url(),
        commands_topic=f"bench-workers-{tag}",
        dead_letter_topic=f"bench-workers-{tag}.dlq",
        group=f"bench-workers-{tag}",
        partitions=PARTITIONS,
    )
    tenant = f"bench-w{workers}-{tag}"
    configure(ns.database_url, tenant, leaderboards=True)
    asyncio.run(
        ensure_topics(ns.bootstrap_servers, ns.commands_topic, ns.dead_letter_topic, PARTITIONS)
    )
    procs = LaurelProcesses(ns, extra_env={"LAUREL_SCHEDULER_INTERVAL_S": "0"})
    try:
        for _ in range(workers):
            procs.start_processor()
        ports = procs.processor_ports

        def held() -> list[int]:
            return [int(metric(p, "laurel_processor_partitions_assigned")) for p in ports]

        wait_for(lambda: sum(held()) == PARTITIONS and all(held()), 120, "the group to settle")
        assignment = held()
        started = time.perf_counter()
        asyncio.run(write(ns.bootstrap_servers, ns.commands_topic, tenant, events, users))

        def applied() -> float:
            return sum(metric(p, "laurel_processor_commands_applied_total") for p in ports)

        wait_for(lambda: applied() >= events, 900, f"{events} events applied")
        return events / (time.perf_counter() - started), assignment
    finally:
        procs.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--users", type=int, default=2_000)
    args = parser.parse_args()
    stack = LocalStack(load_settings())
    print(
        f"processor workers on a {PARTITIONS}-partition topic, {args.events:,} events, "
        f"{args.users:,} users, every rule and two leaderboards"
    )
    for workers in (1, 2, 3):
        rate, held = measure(stack, workers, args.events, args.users)
        print(f"  {workers} worker(s)  {rate:>8,.0f} ev/s   partitions held: {held}")


if __name__ == "__main__":
    main()
