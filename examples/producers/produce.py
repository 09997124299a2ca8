"""Write commands to Laurel's topic directly with aiokafka: a user upsert and a metric event.

    python produce.py BOOTSTRAP TOPIC TENANT USER_ID METRIC VALUE

Prints the two records' ids and partitions as JSON. Only the topic's record contract is used
(see the README, "Writing to the topic directly"); nothing of Laurel is imported.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer


def record_key(tenant: str, user_id: str) -> bytes:
    """The key Laurel expects, byte for byte: the compact JSON array [tenant, userId] with
    non-ASCII characters as UTF-8 (json.dumps' defaults add spaces and \\u escapes)."""
    return json.dumps([tenant, user_id], separators=(",", ":"), ensure_ascii=False).encode()


def command(kind: str, tenant: str, user: dict[str, object], **fields: object) -> dict[str, object]:
    return {
        "v": 1,
        "type": kind,
        "id": str(uuid.uuid4()),  # keep the id when you retry: Laurel counts an id once
        "tenant": tenant,
        "receivedAt": datetime.now(UTC).isoformat(),
        "user": user,
        **fields,
    }


async def main(
    bootstrap: str, topic: str, tenant: str, user_id: str, metric: str, value: str
) -> None:
    upsert = command(
        "user.upsert",
        tenant,
        {"id": user_id, "name": "Written by aiokafka", "tz": "Europe/Paris"},
        mode="identify",
    )
    event = command(
        "metric.event",
        tenant,
        {"id": user_id},
        metric=metric,
        value=float(value),
        attributes={},
        idempotencyKey=None,
    )
    # acks="all" and idempotence: a retried send is written once, in order.
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        sent = []
        for body in (upsert, event):
            meta = await producer.send_and_wait(
                topic, json.dumps(body).encode(), key=record_key(tenant, user_id)
            )
            sent.append({"id": body["id"], "partition": meta.partition})
    finally:
        await producer.stop()
    print(json.dumps(sent))


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:7]))
