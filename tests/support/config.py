"""Creating configuration rows straight in PostgreSQL, for tests that bypass the API."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg


def create_metric(database_url: str, key: str, tenant: str = "") -> uuid.UUID:
    metric_id = uuid.uuid4()
    since = datetime.now(UTC) - timedelta(days=1)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO laurel.metrics (tenant, id, key, name, created, valid_from) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (tenant, metric_id, key, key.title(), since, since),
        )
    return metric_id
