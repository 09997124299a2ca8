"""End-to-end benchmark of a running Laurel, with baselines measured in the same run.

Start the stack first (``make up``), then ``make bench`` (or ``python -m bench.pipeline``).
It prints, side by side:

* raw aiokafka produce and consume rates on a scratch topic (the ceiling Kafka sets here);
* a Faust no-op agent's events/s (the ceiling Faust sets: the processor is a Faust agent);
* the processor's sustained events/s: commands written straight to the commands topic until
  every one is decided in PostgreSQL;
* the processor's batch step in-process (``bench.processor``: no Kafka, batches of 500);
* ``GET /health`` (no I/O) as the HTTP baseline;
* HTTP ingest with ``Prefer: respond-async`` (202 once Kafka holds the event), end to end;
* synchronous ``POST /v1/metrics/{key}/event`` latency p50/p99, one client and 16 concurrent;
* the processor's resident memory (RSS) at the end, with the users it has seen.

All figures come from one run on one machine: compare them with each other, not across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import httpx
import psutil
import psycopg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench import processor as batch_step
from ingest.contract import RecordMetricEvent, UserPatch, encode, record_key
from ingest.ids import new_command_id
from laurel.local import LocalStack
from laurel.settings import load_settings


def row(name: str, value: str, note: str = "") -> None:
    print(f"{name:<52} {value:>16}  {note}", flush=True)


async def kafka_baseline(bootstrap: str, n: int) -> tuple[float, float, str]:
    topic = f"bench-raw-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 6, 1)])
    await admin.close()
    payload = encode(command("bench-user-0", "bench"))
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=256 * 1024,
    )
    await producer.start()
    start = time.perf_counter()
    futures = [await producer.send(topic, payload, key=str(i % 1000).encode()) for i in range(n)]
    await asyncio.gather(*futures)
    produce_rate = n / (time.perf_counter() - start)
    await producer.stop()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 << 20,
    )
    await consumer.start()
    seen = 0
    start = time.perf_counter()
    while seen < n:
        batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
        seen += sum(len(v) for v in batch.values())
    consume_rate = n / (time.perf_counter() - start)
    await consumer.stop()
    return produce_rate, consume_rate, topic


def faust_baseline(bootstrap: str, topic: str, n: int) -> float:
    out = subprocess.run(
        [sys.executable, "-m", "bench.faust_noop", bootstrap, topic, str(n)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    for line in (out.stdout + out.stderr).splitlines():
        if "RATE " in line:
            return float(line.split("RATE ")[1].split()[0])
    raise RuntimeError(f"faust baseline failed:\n{out.stdout[-2000:]}{out.stderr[-2000:]}")


def command(user: str, metric: str) -> RecordMetricEvent:
    return RecordMetricEvent(
        id=new_command_id(),
        tenant="",
        user_id=user,
        received_at=datetime.now(UTC),
        metric_key=metric,
        value=1.0,
        attributes={},
        user=UserPatch(),
    )


def decided(database_url: str) -> int:
    with psycopg.connect(database_url, autocommit=True) as conn:
        schema = conn.execute("SELECT schema_name FROM laurel.active_projection").fetchone()
        assert schema is not None
        row_ = conn.execute(f'SELECT count(*) FROM "{schema[0]}".command_outcomes').fetchone()
    return int(row_[0]) if row_ else 0


def wait_decided(database_url: str, target: int, timeout_s: float = 900) -> float:
    deadline = time.monotonic() + timeout_s
    while decided(database_url) < target:
        if time.monotonic() > deadline:
            raise RuntimeError("the processor did not keep up within the deadline")
        time.sleep(0.1)
    return time.perf_counter()


async def processor_throughput(
    bootstrap: str, topic: str, database_url: str, metric: str, n: int, users: int
) -> float:
    before = decided(database_url)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    start = time.perf_counter()
    futures = []
    for i in range(n):
        c = command(f"bench-user-{i % users}", metric)
        futures.append(await producer.send(topic, encode(c), key=record_key("", c.user_id)))
    await asyncio.gather(*futures)
    await producer.stop()
    end = await asyncio.to_thread(wait_decided, database_url, before + n)
    return n / (end - start)


async def http_rate(
    base: str,
    headers: dict[str, str],
    concurrency: int,
    n: int,
    request: Callable[[aiohttp.ClientSession, int], Any],
) -> tuple[float, list[float]]:
    """Run ``n`` requests over ``concurrency`` connections; return req/s and latencies (s)."""
    latencies: list[float] = []
    counter = iter(range(n))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(base, connector=connector, headers=headers) as session:

        async def worker() -> None:
            for i in counter:
                start = time.perf_counter()
                await request(session, i)
                latencies.append(time.perf_counter() - start)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return n / (time.perf_counter() - start), latencies


def health(session: aiohttp.ClientSession, i: int) -> Any:
    async def call() -> None:
        async with session.get("/health") as r:
            await r.read()
            assert r.status == 200

    return call()


def event(metric: str, prefer_async: bool, expected: int) -> Callable[..., Any]:
    headers = {"Prefer": "respond-async"} if prefer_async else {}

    def request(session: aiohttp.ClientSession, i: int) -> Any:
        async def call() -> None:
            body = {"user": {"id": f"bench-http-{i % 500}"}, "value": 1}
            async with session.post(f"/v1/metrics/{metric}/event", json=body, headers=headers) as r:
                text = await r.read()
                assert r.status == expected, text

        return call()

    return request


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] * 1000


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--raw", type=int, default=200_000)
    parser.add_argument("--http", type=int, default=10_000)
    parser.add_argument("--sync", type=int, default=4_000)
    parser.add_argument("--step-events", type=int, default=10_000)
    parser.add_argument(
        "--leaderboards",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also rank every event on two leaderboards (a metric, daily points)",
    )
    args = parser.parse_args()

    settings = load_settings()
    stack = LocalStack(settings)
    database_url = stack.database_url()
    base = stack.api_url
    bootstrap = settings.bootstrap_servers
    metric = f"bench{uuid.uuid4().hex[:6]}"
    headers = {"X-API-KEY": stack.admin_key()}
    async with httpx.AsyncClient(base_url=base, headers=headers) as admin:
        created = await admin.post("/admin/v1/metrics", json=[{"name": metric, "key": metric}])
        created.raise_for_status()
        # Every event also runs the streak rules: a daily streak on this metric, with freezes.
        streaks = await admin.patch(
            "/admin/v1/streaks/settings",
            json={
                "metrics": [{"key": metric, "threshold": 1}],
                "freezes": {
                    "startCount": 1,
                    "maxCount": 3,
                    "autoEarnInterval": 7,
                    "autoEarnAmount": 1,
                },
            },
        )
        streaks.raise_for_status()
        # ... and the rewards: an achievement ladder and a points system paying per event.
        metric_id = created.json()["created"][0]["id"]
        ladder = await admin.post(
            "/admin/v1/achievements",
            json=[
                {
                    "name": f"{metric} {n}",
                    "trigger": "metric",
                    "status": "active",
                    "metricId": metric_id,
                    "metricValue": n,
                }
                for n in (5, 10, 50)
            ],
        )
        ladder.raise_for_status()
        points = await admin.post(
            "/admin/v1/points",
            json=[
                {
                    "name": f"XP {metric}",
                    "key": f"xp-{metric}",
                    "triggers": [
                        {
                            "type": "metric",
                            "points": 10,
                            "status": "active",
                            "metricId": metric_id,
                            "metricThreshold": 1,
                        }
                    ],
                    "levels": [{"name": "One", "key": "one", "points": 100}],
                }
            ],
        )
        points.raise_for_status()
        # ... and two leaderboards: the metric, and the points in daily runs.
        system_id = points.json()["created"][0]["id"]
        if args.leaderboards:
            boards = await admin.post(
                "/admin/v1/leaderboards",
                json=[
                    {
                        "name": f"Top {metric}",
                        "key": f"top-{metric}",
                        "rankBy": "metric",
                        "metricId": metric_id,
                        "status": "active",
                        "maxParticipants": None,
                    },
                    {
                        "name": f"Daily XP {metric}",
                        "key": f"daily-{metric}",
                        "rankBy": "points",
                        "pointsSystemId": system_id,
                        "status": "active",
                        "runUnit": "day",
                        "runInterval": 1,
                    },
                ],
            )
            boards.raise_for_status()
            assert not boards.json()["issues"], boards.text

    ranked = "with" if args.leaderboards else "without"
    print(
        f"Laurel pipeline benchmark — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, api {base}, "
        f"{ranked} leaderboards"
    )
    produce_rate, consume_rate, raw_topic = await kafka_baseline(bootstrap, args.raw)
    row("baseline: aiokafka produce (acks=all, idempotent)", f"{produce_rate:,.0f} msg/s")
    row("baseline: aiokafka consume", f"{consume_rate:,.0f} msg/s")
    faust_rate = faust_baseline(bootstrap, raw_topic, args.raw)
    row("baseline: Faust no-op agent", f"{faust_rate:,.0f} ev/s")
    rate = await processor_throughput(
        bootstrap, settings.commands_topic, database_url, metric, args.events, users=5_000
    )
    row(
        "laurel: processor, direct to topic -> decided in PG",
        f"{rate:,.0f} ev/s",
        f"({args.events:,} events, 5,000 users)",
    )
    row("laurel: processor / Faust no-op", f"{rate / faust_rate:.3f}")
    steps = await batch_step.measure(
        database_url, args.step_events, 2_000, settings.processor_gc_threshold
    )
    for name, found in steps.items():
        row(f"laurel: batch step in-process, {name}", batch_step.describe(found), "(two rounds)")
    rate, _ = await http_rate(base, headers, 32, args.http, health)
    row("baseline: GET /health (no I/O), 32 connections", f"{rate:,.0f} req/s")
    before = decided(database_url)
    start = time.perf_counter()
    rate, _ = await http_rate(base, headers, 32, args.http, event(metric, True, 202))
    row(
        "laurel: POST event, Prefer: respond-async (Kafka ack)",
        f"{rate:,.0f} req/s",
        "(32 connections)",
    )
    end = await asyncio.to_thread(wait_decided, database_url, before + args.http)
    row("laurel: ... the same events decided in PG", f"{args.http / (end - start):,.0f} ev/s")
    for concurrency in (1, 16):
        n = args.sync if concurrency > 1 else args.sync // 4
        rate, lat = await http_rate(base, headers, concurrency, n, event(metric, False, 201))
        row(
            f"laurel: sync POST event p50/p99, {concurrency} connection(s)",
            f"{pct(lat, 50):.1f}/{pct(lat, 99):.1f} ms",
            f"({rate:,.0f} req/s)",
        )
    pid = stack.processor.pid()
    if pid is not None:
        rss = psutil.Process(pid).memory_info().rss
        row("laurel: processor RSS", f"{rss / 2**20:,.0f} MiB")


if __name__ == "__main__":
    asyncio.run(main())
