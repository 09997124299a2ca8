"""One kind of configuration as the admin API sees it — a table's rows (metrics, attributes) or
a kind of document (achievements, points systems and their parts, leaderboards) — behind one
interface, so that one route mechanism serves them all.

Every write closes the current version and opens the next (see :mod:`projections.store.config`
and :mod:`projections.store.documents`); both raise :class:`DuplicateKey` when another current
row of the tenant holds the key.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from projections.store.config import ROW_TYPES, ConfigStore, ConfigTable, DuplicateKey
from projections.store.documents import DocumentKind, DocumentStore, StoredDocument

__all__ = ["Collection", "DocumentCollection", "DuplicateKey", "TableCollection"]


class Collection(Protocol):
    """The current rows of one kind of configuration of a tenant. ``scope`` is the owner of a
    nested row (a points system's id for its triggers, levels and boosts), ``""`` otherwise;
    ``None`` where given means any."""

    async def page(self, tenant: str, scope: str, limit: int, skip: int) -> list[Any]:
        """Rows in creation order."""

    async def get(self, tenant: str, row_id: uuid.UUID, scope: str | None) -> Any | None:
        """The row, or ``None``."""

    async def insert(
        self, tenant: str, scope: str, row_id: uuid.UUID, draft: Mapping[str, Any], at: datetime
    ) -> Any:
        """Store a new row made of ``draft``'s fields; return it."""

    async def revise(
        self, tenant: str, row_id: uuid.UUID, revision: Mapping[str, Any], at: datetime
    ) -> Any | None:
        """Store the row's next version; return it, or ``None`` if there is no such row."""

    async def delete(self, tenant: str, row_id: uuid.UUID, at: datetime, scope: str | None) -> bool:
        """Close the row's current version; whether there was one."""


class TableCollection:
    """A configuration table: a draft holds the row's fields (without id and creation time),
    a revision the fields that change."""

    def __init__(self, store: ConfigStore, table: ConfigTable) -> None:
        self.store = store
        self.table = table

    async def page(self, tenant: str, scope: str, limit: int, skip: int) -> list[Any]:
        """See :meth:`Collection.page`."""
        return await self.store.page(self.table, tenant, limit, skip)

    async def get(self, tenant: str, row_id: uuid.UUID, scope: str | None) -> Any | None:
        """See :meth:`Collection.get` (table rows have no scope)."""
        return await self.store.get(self.table, tenant, row_id)

    async def insert(
        self, tenant: str, scope: str, row_id: uuid.UUID, draft: Mapping[str, Any], at: datetime
    ) -> Any:
        """See :meth:`Collection.insert`."""
        row = ROW_TYPES[self.table](id=row_id, created=at, **draft)
        await self.store.insert(self.table, tenant, row, at)
        return row

    async def revise(
        self, tenant: str, row_id: uuid.UUID, revision: Mapping[str, Any], at: datetime
    ) -> Any | None:
        """See :meth:`Collection.revise`."""
        return await self.store.update(self.table, tenant, row_id, dict(revision), at)

    async def delete(self, tenant: str, row_id: uuid.UUID, at: datetime, scope: str | None) -> bool:
        """See :meth:`Collection.delete`."""
        return await self.store.delete(self.table, tenant, row_id, at)


class DocumentCollection:
    """A kind of document: a draft is the whole body (with its ``key``, if any), and so is a
    revision."""

    def __init__(self, store: DocumentStore, kind: DocumentKind) -> None:
        self.store = store
        self.kind: DocumentKind = kind

    async def page(self, tenant: str, scope: str, limit: int, skip: int) -> list[StoredDocument]:
        """See :meth:`Collection.page`."""
        return await self.store.page(self.kind, tenant, scope, limit, skip)

    async def get(self, tenant: str, row_id: uuid.UUID, scope: str | None) -> StoredDocument | None:
        """See :meth:`Collection.get`."""
        return await self.store.get(self.kind, tenant, row_id, scope)

    async def insert(
        self, tenant: str, scope: str, row_id: uuid.UUID, draft: Mapping[str, Any], at: datetime
    ) -> StoredDocument:
        """See :meth:`Collection.insert`."""
        return await self.store.insert(
            self.kind, tenant, row_id, scope, draft.get("key"), draft, at
        )

    async def revise(
        self, tenant: str, row_id: uuid.UUID, revision: Mapping[str, Any], at: datetime
    ) -> StoredDocument | None:
        """See :meth:`Collection.revise`."""
        return await self.store.replace(self.kind, tenant, row_id, revision, at)

    async def delete(self, tenant: str, row_id: uuid.UUID, at: datetime, scope: str | None) -> bool:
        """See :meth:`Collection.delete`."""
        return await self.store.delete(self.kind, tenant, row_id, at, scope)
