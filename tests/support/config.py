"""Creating configuration rows straight in PostgreSQL, for tests that bypass the API."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.types.json import Jsonb

from projections.core.streaks import StreakSettings
from projections.store.codecs import settings_json


def _since() -> datetime:
    return datetime.now(UTC) - timedelta(days=1)


def create_metric(database_url: str, key: str, tenant: str = "") -> uuid.UUID:
    metric_id = uuid.uuid4()
    since = _since()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO laurel.metrics (tenant, id, key, name, created, valid_from) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (tenant, metric_id, key, key.title(), since, since),
        )
    return metric_id


def set_streak_settings(database_url: str, settings: StreakSettings, tenant: str = "") -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO laurel.streak_settings (tenant, settings, valid_from) VALUES (%s, %s, %s)",
            (tenant, Jsonb(settings_json(settings)), _since()),
        )


def add_document(
    database_url: str, kind: str, body: dict[str, object], scope: str = "", tenant: str = ""
) -> uuid.UUID:
    """A configuration document (achievement, points system, trigger…) in the admin shape."""
    doc_id = uuid.uuid4()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO laurel.documents (tenant, kind, id, scope, key, body, created, "
            "valid_from) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (tenant, kind, doc_id, scope, body.get("key"), Jsonb(body), _since(), _since()),
        )
    return doc_id
