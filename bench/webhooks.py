"""Webhook deliveries per second from a backlog, next to a plain httpx POST loop to the same
receiver in the same run (``make bench-webhooks``; needs ``laurel up``).

A backlog of ``--messages`` messages for ``--users`` users is written straight into the
webhook tables of a scratch database on the stack's server (so that the stack's own webhooks
process does not take part); one in-process :class:`WebhookDeliverer` (the code a
``laurel webhooks`` process runs: claims, signing, the address check, recording each attempt)
drains it into a uvicorn receiver in another process. The baseline posts the same bodies with
the same concurrency through an ``httpx.AsyncClient`` and records nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import httpx
import orjson
import psycopg
from psycopg import conninfo, sql

from laurel.local import LocalStack
from laurel.settings import load_settings
from processors.webhooks.destinations import Destinations, checked_client, parse_cidrs
from processors.webhooks.service import DeliveryPolicy, WebhookDeliverer
from projections.store.connections import connection_pool
from projections.store.migrate import migrate
from projections.store.webhooks import WebhookStore


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _body(n: int, users: int) -> dict[str, object]:
    return {
        "id": f"msg_bench{n}",
        "type": "points.changed",
        "user": {"id": f"u{n % users}", "name": None, "tz": "UTC"},
        "points": {"key": "xp", "total": n, "added": 10, "awards": []},
    }


async def _backlog(store: WebhookStore, url: str, messages: int, users: int) -> str:
    tenant = f"bench-{uuid.uuid4().hex[:8]}"
    endpoint = await store.create(tenant, url, ["points.changed"], None, "disabled")
    async with store.pool.connection() as conn:
        await conn.execute(
            "INSERT INTO laurel.webhook_messages (id, tenant, user_id, type, created, body) "
            "SELECT %s || n, %s, 'u' || (n %% %s), 'points.changed', now(), "
            "jsonb_build_object('id', %s || n, 'type', 'points.changed', 'user', "
            "jsonb_build_object('id', 'u' || (n %% %s), 'tz', 'UTC'), 'points', "
            "jsonb_build_object('key', 'xp', 'total', n, 'added', 10, 'awards',  '[]'::jsonb)) "
            "FROM generate_series(1, %s) AS n ORDER BY n",
            (f"msg_{tenant}_", tenant, users, f"msg_{tenant}_", users, messages),
        )
        await conn.execute(
            "INSERT INTO laurel.webhook_deliveries (endpoint_id, message_id, position, user_id, "
            "next_attempt, created) SELECT %s, id, position, user_id, now(), now() "
            "FROM laurel.webhook_messages WHERE tenant = %s",
            (endpoint.id, tenant),
        )
    await store.update(tenant, endpoint.id, {"status": "active"})
    return tenant


async def laurel_rate(
    store: WebhookStore, url: str, messages: int, users: int, concurrency: int
) -> float:
    """Deliveries/s of the webhooks process's loop draining the backlog."""
    await _backlog(store, url, messages, users)
    client = checked_client(Destinations(parse_cidrs("127.0.0.0/8")), 30.0, concurrency)
    policy = DeliveryPolicy(schedule=(5.0,), concurrency=concurrency, retention=timedelta(days=30))
    deliverer = WebhookDeliverer(store, client, policy)
    stop = asyncio.Event()
    started = time.perf_counter()
    task = asyncio.create_task(deliverer.run(stop))
    registry = deliverer.metrics.registry
    while (registry.get_sample_value("laurel_webhook_delivery_attempts_count") or 0) < messages:  # noqa: ASYNC110 (a counter)
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    stop.set()
    await task
    await client.aclose()
    delivered = registry.get_sample_value("laurel_webhook_attempts_total", {"state": "delivered"})
    assert delivered == messages, delivered
    return messages / elapsed


async def httpx_rate(url: str, messages: int, users: int, concurrency: int) -> float:
    """Posts/s of a plain httpx loop sending the same bodies with the same concurrency."""
    bodies = [orjson.dumps(_body(n, users)) for n in range(messages)]
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency)) as client:

        async def worker() -> None:
            while not queue.empty():
                body = queue.get_nowait()
                answer = await client.post(url, content=body)
                assert answer.status_code == 200

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return messages / (time.perf_counter() - started)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    with scratch_database(LocalStack(load_settings()).database_url()) as database_url:
        await run(database_url, args.messages, args.users, args.concurrency)


@contextmanager
def scratch_database(server_url: str) -> Iterator[str]:
    """A fresh, migrated database on the server of ``server_url``, dropped afterwards."""
    name = f"laurel_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = conninfo.make_conninfo(server_url, dbname=name)
    try:
        migrate(url)
        yield url
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


async def run(database_url: str, messages: int, users: int, concurrency: int) -> None:
    """Both rates, the baseline before and after Laurel's."""
    port = _free_port()
    receiver = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.receiver", str(port)
    )
    url = f"http://127.0.0.1:{port}/hook"
    pool = connection_pool(database_url, max_size=6)
    await pool.open(wait=True)
    try:
        async with httpx.AsyncClient() as probe:
            for _ in range(100):
                try:
                    await probe.post(url, content=b"{}")
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.1)
        store = WebhookStore(pool)
        plain = await httpx_rate(url, messages, users, concurrency)
        laurel = await laurel_rate(store, url, messages, users, concurrency)
        plain_again = await httpx_rate(url, messages, users, concurrency)
    finally:
        await pool.close()
        receiver.terminate()
        await receiver.wait()
    print(f"webhooks, backlog of {messages:,} messages for {users:,} users, {concurrency} at once")
    print(f"  plain httpx POST loop     {plain:8,.0f} /s  (again after: {plain_again:,.0f} /s)")
    print(f"  laurel webhooks delivery  {laurel:8,.0f} /s  ({laurel / plain:.2f} x httpx)")


if __name__ == "__main__":
    asyncio.run(main())
