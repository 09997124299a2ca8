"""API keys and tenants: configuration rows the api reads on every request, cached in memory.

A key is ``<prefix>.<secret>``; admin keys have a random 8-character prefix, application keys
``app_`` and 8 characters. Only ``sha256(secret)`` is stored, and the full key is shown once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from projections.store.cache import InvalidatedCache

KEYS_CHANNEL = "laurel_keys"
"""NOTIFY channel telling api processes to forget cached keys and tenants."""

KeyKind = Literal["admin", "application"]
_ALPHABET = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class ApiKey:
    """An API key's stored row (never its secret)."""

    id: uuid.UUID
    prefix: str
    kind: KeyKind
    tenant: str | None
    user_id: str | None
    status: str
    created: datetime


@dataclass(frozen=True)
class Tenant:
    """A tenant's row."""

    id: uuid.UUID
    customer_id: str
    name: str
    status: str
    created: datetime
    updated: datetime


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def new_key(kind: KeyKind) -> tuple[str, str, bytes]:
    """A fresh key: (full key, prefix, digest of the secret)."""
    body = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    prefix = f"app_{body}" if kind == "application" else body
    secret = secrets.token_urlsafe(32)
    return f"{prefix}.{secret}", prefix, _digest(secret)


def split_key(presented: str) -> tuple[str, str] | None:
    """``(prefix, secret)`` of a presented key, or ``None`` when it is not of that form."""
    prefix, dot, secret = presented.partition(".")
    if not dot or not prefix or not secret or len(presented) > 200:
        return None
    return prefix, secret


async def _notify(conn: AsyncConnection[Any]) -> None:
    """Tell the other api processes (when the transaction commits) to drop their caches."""
    await conn.execute("SELECT pg_notify(%s, '')", (KEYS_CHANNEL,))


_KEY_COLUMNS = "id, prefix, kind, tenant, user_id, status, created"
_TENANT_COLUMNS = "id, customer_id, name, status, created, updated"


class KeyStore:
    """Keys and tenants in PostgreSQL, with an in-memory cache for request checks."""

    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self.pool = pool
        self._keys: InvalidatedCache[str, tuple[ApiKey, bytes] | None] = InvalidatedCache()
        self._tenants: InvalidatedCache[str, Tenant | None] = InvalidatedCache()

    async def forget(self, _: str = "") -> None:
        """Drop the cached keys and tenants (on ``NOTIFY laurel_keys``)."""
        self._keys.forget()
        self._tenants.forget()

    async def verify(self, presented: str) -> ApiKey | None:
        """The active key ``presented`` is, or ``None``."""
        parts = split_key(presented)
        if parts is None:
            return None
        prefix, secret = parts

        async def load() -> tuple[ApiKey, bytes] | None:
            async with self.pool.connection() as conn:
                cur = await conn.execute(
                    f"SELECT {_KEY_COLUMNS}, secret_sha256 FROM laurel.api_keys WHERE prefix = %s",
                    (prefix,),
                )
                row = await cur.fetchone()
            return (ApiKey(*row[:7]), bytes(row[7])) if row else None

        found = await self._keys.get(prefix, load)
        if found is None:
            return None
        key, digest = found
        if key.status != "active" or not hmac.compare_digest(digest, _digest(secret)):
            return None
        return key

    async def create(
        self,
        kind: KeyKind,
        tenant: str | None = None,
        user_id: str | None = None,
        presented: str | None = None,
    ) -> tuple[ApiKey, str]:
        """Store a new key (or the given one, for bootstrap); return it and its full text."""
        if presented is not None:
            parts = split_key(presented)
            if parts is None:
                raise ValueError("a key must look like <prefix>.<secret>")
            full, prefix, digest = presented, parts[0], _digest(parts[1])
        else:
            full, prefix, digest = new_key(kind)
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "INSERT INTO laurel.api_keys (id, prefix, secret_sha256, kind, tenant, user_id) "
                f"VALUES (%s, %s, %s, %s, %s, %s) RETURNING {_KEY_COLUMNS}",
                (uuid.uuid4(), prefix, digest, kind, tenant, user_id),
            )
            row = await cur.fetchone()
            await _notify(conn)
        await self.forget()
        assert row is not None
        return ApiKey(*row), full

    async def ensure_admin(self, presented: str) -> bool:
        """Store ``presented`` as an admin key unless its prefix exists; True if stored."""
        parts = split_key(presented)
        if parts is None:
            raise ValueError("LAUREL_BOOTSTRAP_ADMIN_KEY must look like <prefix>.<secret>")
        async with self.pool.connection() as conn:
            cur = await conn.execute("SELECT 1 FROM laurel.api_keys WHERE prefix = %s", (parts[0],))
            if await cur.fetchone():
                return False
        await self.create("admin", presented=presented)
        return True

    async def has_admin(self) -> bool:
        """Whether any admin key exists."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT 1 FROM laurel.api_keys WHERE kind = 'admin' AND status = 'active'"
            )
            return await cur.fetchone() is not None

    async def set_status(self, key_id: uuid.UUID, status: str, kind: KeyKind) -> ApiKey | None:
        """Activate or revoke a key of ``kind``; the key, or ``None`` if there is none."""
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                f"UPDATE laurel.api_keys SET status = %s WHERE id = %s AND kind = %s "
                f"RETURNING {_KEY_COLUMNS}",
                (status, key_id, kind),
            )
            row = await cur.fetchone()
            await _notify(conn)
        await self.forget()
        return ApiKey(*row) if row else None

    async def delete(self, key_id: uuid.UUID, kind: KeyKind) -> bool:
        """Delete a key of ``kind``; whether there was one."""
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "DELETE FROM laurel.api_keys WHERE id = %s AND kind = %s", (key_id, kind)
            )
            await _notify(conn)
        await self.forget()
        return bool(cur.rowcount > 0)

    async def list_keys(self) -> list[ApiKey]:
        """Every key, newest last."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_KEY_COLUMNS} FROM laurel.api_keys ORDER BY created, id"
            )
            return [ApiKey(*row) for row in await cur.fetchall()]

    # Tenants -----------------------------------------------------------------------------

    async def tenant(self, customer_id: str) -> Tenant | None:
        """The tenant a Tenant-ID names (cached), or ``None``."""

        async def load() -> Tenant | None:
            async with self.pool.connection() as conn:
                cur = await conn.execute(
                    f"SELECT {_TENANT_COLUMNS} FROM laurel.tenants WHERE customer_id = %s",
                    (customer_id,),
                )
                row = await cur.fetchone()
            return Tenant(*row) if row else None

        return await self._tenants.get(customer_id, load)

    async def tenants(self, limit: int, skip: int) -> list[Tenant]:
        """A page of tenants."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_TENANT_COLUMNS} FROM laurel.tenants ORDER BY created, id "
                "LIMIT %s OFFSET %s",
                (limit, skip),
            )
            return [Tenant(*row) for row in await cur.fetchall()]

    async def tenant_by_id(self, tenant_id: uuid.UUID) -> Tenant | None:
        """The tenant with ``tenant_id``, or ``None``."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_TENANT_COLUMNS} FROM laurel.tenants WHERE id = %s", (tenant_id,)
            )
            row = await cur.fetchone()
        return Tenant(*row) if row else None

    async def create_tenant(self, customer_id: str, name: str, at: datetime) -> Tenant | None:
        """A new tenant, or ``None`` when the customerId is taken."""
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "INSERT INTO laurel.tenants (id, customer_id, name, created, updated) "
                f"VALUES (%s, %s, %s, %s, %s) ON CONFLICT (customer_id) DO NOTHING "
                f"RETURNING {_TENANT_COLUMNS}",
                (uuid.uuid4(), customer_id, name, at, at),
            )
            row = await cur.fetchone()
            await _notify(conn)
        await self.forget()
        return Tenant(*row) if row else None

    async def update_tenant(
        self, tenant_id: uuid.UUID, changes: dict[str, str], at: datetime
    ) -> Tenant | None:
        """Change the tenant's columns in ``changes``; the tenant, or ``None`` if there is none."""
        sets = ", ".join(f"{column} = %s" for column in changes)
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                f"UPDATE laurel.tenants SET {sets}{', ' if sets else ''}updated = %s "
                f"WHERE id = %s RETURNING {_TENANT_COLUMNS}",
                (*changes.values(), at, tenant_id),
            )
            row = await cur.fetchone()
            await _notify(conn)
        await self.forget()
        return Tenant(*row) if row else None
