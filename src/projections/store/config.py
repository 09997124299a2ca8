"""Configuration tables (metrics, attributes): versioned rows, never derived from the log.

An update or delete closes the current version (``valid_to = at``) and, for an update, opens
a new one from ``at``; the processor evaluates each command against the version in force when
the command was received.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from psycopg import AsyncConnection, errors, sql
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from projections.core.model import ConfigHistory
from projections.core.streaks import StreakSettings
from projections.store.cache import InvalidatedCache
from projections.store.codecs import settings_from_json, settings_json
from projections.store.config_history import load_config

ConfigTable = Literal["metrics", "attributes"]
CONFIG_CHANNEL = "laurel_config"
"""NOTIFY channel carrying the tenant whose configuration changed."""


@dataclass(frozen=True)
class MetricRow:
    """A metric's current row."""

    id: uuid.UUID
    key: str
    name: str
    unit_type: str
    units: str | None
    created: datetime


@dataclass(frozen=True)
class AttributeRow:
    """An attribute's current row."""

    id: uuid.UUID
    key: str
    name: str
    type: str
    created: datetime


_COLUMNS: dict[ConfigTable, tuple[str, ...]] = {
    "metrics": ("id", "key", "name", "unit_type", "units", "created"),
    "attributes": ("id", "key", "name", "type", "created"),
}
ROW_TYPES: dict[ConfigTable, type[MetricRow] | type[AttributeRow]] = {
    "metrics": MetricRow,
    "attributes": AttributeRow,
}


async def announce_change(conn: AsyncConnection[Any], tenant: str) -> None:
    """Tell every API process, when this transaction commits, to forget ``tenant``'s config."""
    await conn.execute("SELECT pg_notify(%s, %s)", (CONFIG_CHANNEL, tenant))


class CachedConfig:
    """Each tenant's current configuration, kept in memory until a change is announced.

    Used by the API to check requests before publishing them; the processor always reads the
    versioned tables, so a stale entry (for the milliseconds a notification takes) can at worst
    let through a command the processor then rejects, or refuse one that was just allowed.
    """

    def __init__(self, store: ConfigStore) -> None:
        self._store = store
        self._tenants: InvalidatedCache[str, ConfigHistory] = InvalidatedCache()

    async def current(self, tenant: str, at: datetime) -> ConfigHistory:
        """The tenant's configuration (cached until a change is announced)."""
        return await self._tenants.get(tenant, lambda: self._store.current(tenant, at))

    async def forget(self, tenant: str) -> None:
        """Drop the tenant's cached configuration."""
        self._tenants.forget(tenant)

    async def forget_all(self) -> None:
        """Drop every tenant's (after the listener reconnected: changes may have been missed)."""
        self._tenants.forget()


class DuplicateKey(Exception):
    """A current row of the same tenant already uses this key."""


class ConfigStore:
    """Reads and writes the current configuration of a tenant."""

    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self.pool = pool

    async def current(self, tenant: str, at: datetime) -> ConfigHistory:
        """The configuration in force at ``at`` (normally the request's receive time)."""
        async with self.pool.connection() as conn:
            return await load_config(conn, [tenant], at, at)

    async def page(self, table: ConfigTable, tenant: str, limit: int, skip: int) -> list[Any]:
        """A page of the table's current rows, in creation order."""
        return await self._select(table, tenant, None, limit, skip)

    async def get(self, table: ConfigTable, tenant: str, row_id: uuid.UUID) -> Any | None:
        """The row's current version, or ``None``."""
        rows = await self._select(table, tenant, row_id, 1, 0)
        return rows[0] if rows else None

    async def _select(
        self, table: ConfigTable, tenant: str, row_id: uuid.UUID | None, limit: int, skip: int
    ) -> list[Any]:
        columns = _COLUMNS[table]
        query = sql.SQL(
            "SELECT {cols} FROM laurel.{table} WHERE tenant = %s AND valid_to IS NULL"
            "{by_id} ORDER BY created, id LIMIT %s OFFSET %s"
        ).format(
            cols=sql.SQL(", ").join(map(sql.Identifier, columns)),
            table=sql.Identifier(table),
            by_id=sql.SQL(" AND id = %s" if row_id else ""),
        )
        params: tuple[Any, ...] = (tenant, row_id, limit, skip) if row_id else (tenant, limit, skip)
        async with self.pool.connection() as conn:
            cur = await conn.execute(query, params)
            row_type = ROW_TYPES[table]
            return [row_type(*row) for row in await cur.fetchall()]

    async def insert(self, table: ConfigTable, tenant: str, row: Any, at: datetime) -> None:
        """Insert a new row; raise :class:`DuplicateKey` if its key is taken."""
        async with self.pool.connection() as conn, conn.transaction():
            await self._insert(conn, table, tenant, row, at)
            await announce_change(conn, tenant)

    async def _insert(
        self, conn: AsyncConnection[Any], table: ConfigTable, tenant: str, row: Any, at: datetime
    ) -> None:
        columns = _COLUMNS[table]
        query = sql.SQL(
            "INSERT INTO laurel.{table} (tenant, {cols}, valid_from) VALUES (%s, {vals}, %s)"
        ).format(
            table=sql.Identifier(table),
            cols=sql.SQL(", ").join(map(sql.Identifier, columns)),
            vals=sql.SQL(", ").join(sql.Placeholder() * len(columns)),
        )
        try:
            async with conn.transaction():
                await conn.execute(query, (tenant, *(getattr(row, c) for c in columns), at))
        except errors.UniqueViolation:
            raise DuplicateKey(row.key) from None

    async def update(
        self,
        table: ConfigTable,
        tenant: str,
        row_id: uuid.UUID,
        changes: dict[str, Any],
        at: datetime,
    ) -> Any | None:
        """Close the current version and open one with ``changes``; ``None`` if not found."""
        async with self.pool.connection() as conn, conn.transaction():
            current = await self._close(conn, table, tenant, row_id, at)
            if current is None:
                return None
            updated = replace(current, **changes)
            await self._insert(conn, table, tenant, updated, at)
            await announce_change(conn, tenant)
            return updated

    async def delete(
        self, table: ConfigTable, tenant: str, row_id: uuid.UUID, at: datetime
    ) -> bool:
        """Close the current version; False if there is none."""
        async with self.pool.connection() as conn, conn.transaction():
            closed = await self._close(conn, table, tenant, row_id, at) is not None
            if closed:
                await announce_change(conn, tenant)
            return closed

    async def _close(
        self,
        conn: AsyncConnection[Any],
        table: ConfigTable,
        tenant: str,
        row_id: uuid.UUID,
        at: datetime,
    ) -> Any | None:
        columns = _COLUMNS[table]
        query = sql.SQL(
            "UPDATE laurel.{table} SET valid_to = greatest(%s, valid_from) "
            "WHERE tenant = %s AND id = %s AND valid_to IS NULL RETURNING {cols}"
        ).format(table=sql.Identifier(table), cols=sql.SQL(", ").join(map(sql.Identifier, columns)))
        cur = await conn.execute(query, (at, tenant, row_id))
        row = await cur.fetchone()
        return ROW_TYPES[table](*row) if row else None

    async def streak_settings(self, tenant: str) -> StreakSettings:
        """The tenant's current streak settings (the defaults before any were saved)."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT settings FROM laurel.streak_settings "
                "WHERE tenant = %s AND valid_to IS NULL",
                (tenant,),
            )
            row = await cur.fetchone()
            return settings_from_json(row[0]) if row else StreakSettings()

    async def save_streak_settings(
        self, tenant: str, settings: StreakSettings, at: datetime
    ) -> None:
        """Make ``settings`` the tenant's streak settings from ``at`` on."""
        async with self.pool.connection() as conn, conn.transaction():
            # Serialise concurrent updates of one tenant: each closes the version the other saw.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('streak:' || %s))", (tenant,))
            cur = await conn.execute(
                "UPDATE laurel.streak_settings SET valid_to = greatest(%s, valid_from) "
                "WHERE tenant = %s AND valid_to IS NULL RETURNING valid_to",
                (at, tenant),
            )
            closed = await cur.fetchone()
            start = max(at, closed[0]) if closed else at
            await conn.execute(
                "INSERT INTO laurel.streak_settings (tenant, settings, valid_from) "
                "VALUES (%s, %s, %s) ON CONFLICT (tenant, valid_from) DO UPDATE "
                "SET settings = EXCLUDED.settings, valid_to = NULL",
                (tenant, Jsonb(settings_json(settings)), start),
            )
            await announce_change(conn, tenant)
