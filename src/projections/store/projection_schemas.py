"""Projection schemas: making the next one for a replay, the checkpoints a live one holds,
comparing two table by table, and switching the active-schema pointer."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from projections.store.connections import active_schema
from projections.store.migrate import create_projection_schema
from projections.store.reads import PROJECTION_CHANNEL

# Columns compared between the live and the rebuilt schema (wall-clock columns are left out).
COMPARED: dict[str, str] = {
    "users": "tenant, user_id, name, email, tz, device_tokens, subscribe_to_emails, attributes, "
    "sign_up_date, created, updated, preferences, notices",
    "streaks": "tenant, user_id, length, extended_at, next_due, state",
    "streak_periods": "tenant, user_id, frequency, period_start, period_end, length, "
    "used_freeze, used_pause, reset_at",
    "streak_pauses": "tenant, id, user_id, start_date, end_date, status",
    "outbox": "tenant, command_id, seq, user_id, kind, occurred, body",
    "user_achievements": "tenant, user_id, achievement_id, achieved_at, backdated, command_id",
    "user_points": "tenant, user_id, state",
    "points_totals": "tenant, user_id, system_id, total, level_id",
    "points_awards": "tenant, id, user_id, system_id, command_id, awarded, total, awarded_at, body",
    "points_daily": "tenant, user_id, system_id, day, change",
    "leaderboard_entries": "tenant, leaderboard_id, run, user_id, grp, value, reached_at",
    "leaderboard_days": "tenant, leaderboard_id, user_id, run, day, value",
    "metric_totals": "tenant, user_id, metric_id, total",
    "metric_daily": "tenant, user_id, metric_id, day, change",
    "metric_activity": "tenant, metric_id, day, users, events, total",
    "user_days": "tenant, user_id, day",
    "user_periods": "tenant, user_id, unit, start",
    "user_activity": "tenant, user_id, first_day",
    "tenant_daily": "tenant, day, users, new_users",
    "tenant_periods": "tenant, unit, start, users",
    "retention_weekly": "tenant, cohort, week, users",
    "retention_daily": "tenant, cohort, after, users",
    "idempotency_keys": "tenant, user_id, metric_key, key, event_id",
    # (not type and received_at: rows decided before they were stored lack them)
    "command_outcomes": 'tenant, command_id, user_id, status, body, topic, partition, "offset"',
    "dead_letters": 'topic, partition, "offset", reason, key, value',
    "checkpoints": "topic, partition, last_offset",
}


def next_schema_name(existing: Sequence[str]) -> str:
    """``laurel_p<N+1>`` for the highest N among ``existing``."""
    numbers = [
        int(match.group(1)) for s in existing if (match := re.fullmatch(r"laurel_p(\d+)", s))
    ]
    return f"laurel_p{max(numbers, default=0) + 1}"


def create_next_schema(database_url: str) -> tuple[str, str]:
    """Create the next projection schema, migrated; return (its name, the active one's)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute("SELECT nspname FROM pg_namespace").fetchall()
        schema = next_schema_name([r[0] for r in rows])
        create_projection_schema(conn, schema)
        live = conn.execute("SELECT schema_name FROM laurel.active_projection").fetchone()
    assert live is not None
    return schema, str(live[0])


async def checkpoints(
    conn: psycopg.AsyncConnection[Any], schema: str, topic: str
) -> dict[int, int]:
    """The last offset ``schema`` applied of each partition of ``topic``."""
    cur = await conn.execute(
        sql.SQL("SELECT partition, last_offset FROM {}.checkpoints WHERE topic = %s").format(
            sql.Identifier(schema)
        ),
        (topic,),
    )
    return {p: o for p, o in await cur.fetchall()}


@dataclass(frozen=True)
class PartitionLag:
    """How far the projection is behind one partition of the commands topic."""

    partition: int
    high_watermark: int
    """The offset the next record written to the partition will get."""
    last_offset: int
    """The last offset the projection applied (-1: none)."""
    updated: datetime | None
    """When the projection last committed a batch of this partition."""

    @property
    def lag(self) -> int:
        """Records on the partition the projection has not applied yet."""
        return max(0, self.high_watermark - self.last_offset - 1)


async def partition_lags(
    conn: psycopg.AsyncConnection[Any], topic: str, high_watermarks: Mapping[int, int]
) -> list[PartitionLag]:
    """Each partition's lag: its high watermark against the active projection's checkpoint
    (Laurel's own offsets, which the consumer group's committed offsets may trail)."""
    cur = await conn.execute(
        sql.SQL(
            "SELECT partition, last_offset, updated FROM {}.checkpoints WHERE topic = %s"
        ).format(sql.Identifier(await active_schema(conn))),
        (topic,),
    )
    stored = {p: (o, at) for p, o, at in await cur.fetchall()}
    return [
        PartitionLag(p, high, *stored.get(p, (-1, None)))
        for p, high in sorted(high_watermarks.items())
    ]


async def lock_active(conn: psycopg.AsyncConnection[Any]) -> str:
    """Lock the active-schema pointer ``FOR UPDATE`` (every processor batch holds it ``FOR
    SHARE``: this waits for the batch in flight and holds the next back); return the schema."""
    await conn.execute("SELECT schema_name FROM laurel.active_projection FOR UPDATE")
    return await active_schema(conn)


async def switch_active(conn: psycopg.AsyncConnection[Any], schema: str) -> None:
    """Point reads and writes at ``schema`` and tell the api processes (in the caller's
    transaction, which should hold :func:`lock_active`)."""
    await conn.execute(
        "UPDATE laurel.active_projection SET schema_name = %s, switched = now()", (schema,)
    )
    await conn.execute("SELECT pg_notify(%s, %s)", (PROJECTION_CHANNEL, schema))


async def differences(conn: psycopg.AsyncConnection[Any], live: str, schema: str) -> dict[str, int]:
    """Per table of :data:`COMPARED`, how many rows the two schemas do not share."""
    found: dict[str, int] = {}
    for table, columns in COMPARED.items():
        query = sql.SQL(
            "SELECT count(*) FROM ((SELECT {c} FROM {a}.{t} EXCEPT ALL SELECT {c} FROM {b}.{t})"
            " UNION ALL (SELECT {c} FROM {b}.{t} EXCEPT ALL SELECT {c} FROM {a}.{t})) d"
        ).format(
            c=sql.SQL(columns),
            a=sql.Identifier(live),
            b=sql.Identifier(schema),
            t=sql.Identifier(table),
        )
        row = await (await conn.execute(query)).fetchone()
        found[table] = int(row[0]) if row else 0
    return found
