"""Forward-only, versioned migrations recorded in ``laurel.schema_migrations``.

Two sets live in ``migrations/``: ``config_NNNN_*.sql`` for the ``laurel`` schema (configuration,
applied once) and ``projection_NNNN_*.sql`` templates applied to every projection schema, so a
replay can build a fresh one. Each file runs in its own transaction under an advisory lock, so
concurrent starters serialise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg
from psycopg import sql

CONFIG_SCHEMA = "laurel"
INITIAL_PROJECTION = "laurel_p1"
_LOCK_KEY = 0x1A0E1  # pg_advisory_xact_lock key shared by every Laurel migrator
_NAME = re.compile(r"^(config|projection)_(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, order=True)
class Migration:
    """One migration file: its version, name, kind (config or projection) and SQL."""

    version: int
    name: str
    kind: str
    text: str


def _migrations(kind: str) -> list[Migration]:
    found = []
    for entry in resources.files("projections.store").joinpath("migrations").iterdir():
        match = _NAME.match(entry.name)
        if match and match.group(1) == kind:
            found.append(Migration(int(match.group(2)), match.group(3), kind, entry.read_text()))
    return sorted(found)


def _apply(conn: psycopg.Connection[object], scope: str, kind: str, schema: str) -> list[str]:
    applied: list[str] = []
    for migration in _migrations(kind):
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            done = conn.execute(
                "SELECT 1 FROM laurel.schema_migrations WHERE scope = %s AND version = %s",
                (scope, migration.version),
            ).fetchone()
            if done:
                continue
            statement = migration.text.replace("{schema}", sql.Identifier(schema).as_string(conn))
            conn.execute(statement.encode())
            conn.execute(
                "INSERT INTO laurel.schema_migrations (scope, version, name) VALUES (%s, %s, %s)",
                (scope, migration.version, migration.name),
            )
            applied.append(f"{scope}:{migration.version:04d}_{migration.name}")
    return applied


def _bootstrap(conn: psycopg.Connection[object]) -> None:
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute("CREATE SCHEMA IF NOT EXISTS laurel")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS laurel.schema_migrations ("
            " scope text NOT NULL, version integer NOT NULL, name text NOT NULL,"
            " applied timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (scope, version))"
        )


def create_projection_schema(conn: psycopg.Connection[object], schema: str) -> list[str]:
    """Create ``schema`` (if needed) and bring it to the newest projection migration."""
    with conn.transaction():
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    return _apply(conn, schema, "projection", schema)


def migrate(database_url: str) -> list[str]:
    """Apply every pending migration: configuration, then each live projection schema.

    Returns the migrations applied, as ``scope:NNNN_name`` strings.
    """
    with psycopg.connect(database_url, autocommit=True) as conn:
        _bootstrap(conn)
        applied = _apply(conn, CONFIG_SCHEMA, "config", CONFIG_SCHEMA)
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            row = conn.execute("SELECT schema_name FROM laurel.active_projection").fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO laurel.active_projection (schema_name) VALUES (%s)",
                    (INITIAL_PROJECTION,),
                )
        active = str(row[0]) if row else INITIAL_PROJECTION
        applied += create_projection_schema(conn, active)
        return applied


async def pending_migrations(conn: psycopg.AsyncConnection[Any]) -> list[str]:
    """The migrations this code carries that the database lacks (``scope:NNNN_name``): empty
    when the schema is current (a readiness check)."""
    cur = await conn.execute("SELECT scope, version FROM laurel.schema_migrations")
    applied = {(str(scope), int(version)) for scope, version in await cur.fetchall()}
    cur = await conn.execute("SELECT schema_name FROM laurel.active_projection")
    row = await cur.fetchone()
    active = str(row[0]) if row else INITIAL_PROJECTION
    return [
        f"{scope}:{m.version:04d}_{m.name}"
        for scope, kind in ((CONFIG_SCHEMA, "config"), (active, "projection"))
        for m in _migrations(kind)
        if (scope, m.version) not in applied
    ]
