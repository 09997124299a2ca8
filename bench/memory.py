"""The processor's memory as it sees more and more distinct users.

Start the stack first (``make up``), then ``make bench-memory`` (or ``python -m bench.memory``).
It writes one metric event for each of ``--users`` distinct users (default 1,000,000) straight to
the commands topic, and prints the processor's resident memory (RSS) every ``--every`` users
decided. The processor keeps at most ``LAUREL_PROCESSOR_CACHE_USERS`` user states in memory
(100,000 by default), so its RSS should level off once the cache is full.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import psutil
from aiokafka import AIOKafkaProducer
from httpx import AsyncClient

from bench.pipeline import command, decided, wait_decided
from ingest.contract import encode, record_key
from laurel.local import LocalStack
from laurel.settings import load_settings


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--every", type=int, default=100_000)
    args = parser.parse_args()
    settings = load_settings()
    stack = LocalStack(settings)
    database_url = stack.database_url()
    pid = stack.processor.pid()
    if pid is None:
        raise SystemExit("the processor is not running: `make up` first")
    processor = psutil.Process(pid)
    metric = f"mem{uuid.uuid4().hex[:6]}"
    async with AsyncClient(
        base_url=stack.api_url, headers={"X-API-KEY": stack.admin_key()}
    ) as admin:
        created = await admin.post("/admin/v1/metrics", json=[{"name": metric, "key": metric}])
        created.raise_for_status()
    print(f"processor RSS at start: {processor.memory_info().rss / 2**20:,.0f} MiB", flush=True)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers, acks="all", enable_idempotence=True
    )
    await producer.start()
    before = decided(database_url)
    start = time.perf_counter()
    try:
        for sent in range(0, args.users, args.every):
            futures = []
            for i in range(sent, min(sent + args.every, args.users)):
                c = command(f"mem-{metric}-{i}", metric)
                futures.append(
                    await producer.send(
                        settings.commands_topic, encode(c), key=record_key("", c.user_id)
                    )
                )
            await asyncio.gather(*futures)
            target = before + min(sent + args.every, args.users)
            await asyncio.to_thread(wait_decided, database_url, target, 3600)
            rss = processor.memory_info().rss / 2**20
            elapsed = time.perf_counter() - start
            print(
                f"{target - before:>10,} distinct users decided  RSS {rss:>7,.0f} MiB  "
                f"({elapsed:,.0f} s)",
                flush=True,
            )
    finally:
        await producer.stop()


if __name__ == "__main__":
    asyncio.run(main())
