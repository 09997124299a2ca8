"""Configuration documents (achievements, points systems, triggers, levels, boosts): versioned
rows of ``laurel.documents`` holding the admin API's JSON.

Like metrics, an update closes the current version and opens a new one, and a delete closes it;
the processor reads the version in force at each command's time.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeAlias

from psycopg import AsyncConnection, errors
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from projections.store.config import DuplicateKey, announce_change

DocumentKind: TypeAlias = Literal[
    "achievement", "points_system", "points_trigger", "points_level", "points_boost", "leaderboard"
]


@dataclass(frozen=True)
class StoredDocument:
    """A configuration document's current version."""

    id: uuid.UUID
    scope: str
    key: str | None
    body: Mapping[str, Any]
    created: datetime
    updated: datetime


_COLUMNS = "id, scope, key, body, created, valid_from"


class DocumentStore:
    """Configuration documents (achievements, points systems and their parts, leaderboards),
    versioned."""

    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self.pool = pool

    async def page(
        self, kind: DocumentKind, tenant: str, scope: str, limit: int, skip: int
    ) -> list[StoredDocument]:
        """A page of the current documents of ``kind`` in ``scope``, in creation order."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_COLUMNS} FROM laurel.documents WHERE tenant = %s AND kind = %s "
                "AND scope = %s AND valid_to IS NULL ORDER BY created, id LIMIT %s OFFSET %s",
                (tenant, kind, scope, limit, skip),
            )
            return [StoredDocument(*row) for row in await cur.fetchall()]

    async def get(
        self, kind: DocumentKind, tenant: str, doc_id: uuid.UUID, scope: str | None = None
    ) -> StoredDocument | None:
        """The document's current version (in ``scope``, if given), or ``None``."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_COLUMNS} FROM laurel.documents WHERE tenant = %s AND kind = %s "
                "AND id = %s AND (%s::text IS NULL OR scope = %s) AND valid_to IS NULL",
                (tenant, kind, doc_id, scope, scope),
            )
            row = await cur.fetchone()
            return StoredDocument(*row) if row else None

    async def by_key(self, kind: DocumentKind, tenant: str, key: str) -> StoredDocument | None:
        """The current document of ``kind`` with ``key``, or ``None``."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_COLUMNS} FROM laurel.documents WHERE tenant = %s AND kind = %s "
                "AND key = %s AND valid_to IS NULL",
                (tenant, kind, key),
            )
            row = await cur.fetchone()
            return StoredDocument(*row) if row else None

    async def insert(
        self,
        kind: DocumentKind,
        tenant: str,
        doc_id: uuid.UUID,
        scope: str,
        key: str | None,
        body: Mapping[str, Any],
        at: datetime,
    ) -> StoredDocument:
        """Insert a new document; raise :class:`DuplicateKey` if its key is taken."""
        async with self.pool.connection() as conn, conn.transaction():
            await self._insert(conn, kind, tenant, doc_id, scope, key, body, at, at)
            await announce_change(conn, tenant)
        return StoredDocument(doc_id, scope, key, body, at, at)

    async def _insert(
        self,
        conn: AsyncConnection[Any],
        kind: DocumentKind,
        tenant: str,
        doc_id: uuid.UUID,
        scope: str,
        key: str | None,
        body: Mapping[str, Any],
        created: datetime,
        at: datetime,
    ) -> None:
        try:
            async with conn.transaction():
                await conn.execute(
                    "INSERT INTO laurel.documents (tenant, kind, id, scope, key, body, created, "
                    "valid_from) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                    (tenant, kind, doc_id, scope, key, Jsonb(dict(body)), created, at),
                )
        except errors.UniqueViolation:
            raise DuplicateKey(key or str(doc_id)) from None

    async def replace(
        self,
        kind: DocumentKind,
        tenant: str,
        doc_id: uuid.UUID,
        body: Mapping[str, Any],
        at: datetime,
    ) -> StoredDocument | None:
        """Close the current version and open one with ``body``; ``None`` if not found."""
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "UPDATE laurel.documents SET body = %s WHERE tenant = %s AND kind = %s AND id = %s "
                f"AND valid_to IS NULL AND valid_from >= %s RETURNING {_COLUMNS}",
                (Jsonb(dict(body)), tenant, kind, doc_id, at),
            )
            if (row := await cur.fetchone()) is not None:
                # The current version began at this very instant: amend it rather than leave a
                # version that never held.
                await announce_change(conn, tenant)
                return StoredDocument(*row)
            current = await self._close(conn, kind, tenant, doc_id, at)
            if current is None:
                return None
            await self._insert(
                conn, kind, tenant, doc_id, current.scope, current.key, body, current.created, at
            )
            await announce_change(conn, tenant)
            return StoredDocument(doc_id, current.scope, current.key, body, current.created, at)

    async def delete(
        self,
        kind: DocumentKind,
        tenant: str,
        doc_id: uuid.UUID,
        at: datetime,
        scope: str | None = None,
    ) -> bool:
        """Close the document's current version; whether there was one."""
        async with self.pool.connection() as conn, conn.transaction():
            current = await self._close(conn, kind, tenant, doc_id, at, scope)
            if current is not None:
                await announce_change(conn, tenant)
            return current is not None

    async def _close(
        self,
        conn: AsyncConnection[Any],
        kind: DocumentKind,
        tenant: str,
        doc_id: uuid.UUID,
        at: datetime,
        scope: str | None = None,
    ) -> StoredDocument | None:
        cur = await conn.execute(
            "UPDATE laurel.documents SET valid_to = greatest(%s, valid_from) WHERE tenant = %s "
            "AND kind = %s AND id = %s AND (%s::text IS NULL OR scope = %s) AND valid_to IS NULL "
            f"RETURNING {_COLUMNS}",
            (at, tenant, kind, doc_id, scope, scope),
        )
        row = await cur.fetchone()
        return StoredDocument(*row) if row else None


@dataclass(frozen=True)
class Backdate:
    """How far one backdating run got: users queued, and when it finished."""

    queued: int
    finished: datetime | None


class BackdateLog:
    """Progress of backdating runs, one per achievement version."""

    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self.pool = pool

    async def start(self, tenant: str, achievement_id: uuid.UUID, version: datetime) -> None:
        """Record that backdating of this achievement version began."""
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO laurel.backdates (tenant, achievement_id, version) "
                "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                (tenant, achievement_id, version),
            )

    async def progress(
        self, tenant: str, achievement_id: uuid.UUID, version: datetime, queued: int, done: bool
    ) -> None:
        """Record how many users were queued, and whether the run is done."""
        async with self.pool.connection() as conn:
            await conn.execute(
                "UPDATE laurel.backdates SET queued = %s, finished = CASE WHEN %s THEN now() END "
                "WHERE tenant = %s AND achievement_id = %s AND version = %s",
                (queued, done, tenant, achievement_id, version),
            )

    async def latest(self, tenant: str, achievement_id: uuid.UUID) -> Backdate | None:
        """The progress of the achievement's latest backdated version."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT queued, finished FROM laurel.backdates WHERE tenant = %s "
                "AND achievement_id = %s ORDER BY version DESC LIMIT 1",
                (tenant, achievement_id),
            )
            row = await cur.fetchone()
            return Backdate(*row) if row else None
