"""One mechanism for every configuration resource of the Admin API: list, get, create, update
and delete, under Trophy's conventions (:mod:`api.admin.items`), over the store's
:class:`~projections.store.collections.Collection` of that resource.

A :class:`Resource` says where its rows are kept, how an item is validated into a new row's
fields (``create``) or into the next version (``update``), and how a row is shown. Resources
may be nested under a points system (``scoped``: ``/points/{system_id}/...``) or hold nested
ones in their create items (``children``: a points system's levels, boosts and triggers).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from api import schemas
from api.admin.fields import ItemContext, item_id
from api.admin.items import ItemError, created_response, delete_each, for_each_item, parse_items
from api.auth import Tenant
from api.requests import Paging, fail, json_body
from ingest.service import Ingest
from projections.core.model import ConfigHistory
from projections.store.collections import (
    Collection,
    DocumentCollection,
    DuplicateKey,
    TableCollection,
)
from projections.store.config import ConfigTable
from projections.store.documents import DocumentKind

MAX_NESTED = 100
"""The most nested items (levels, boosts, triggers) one create item may hold, of each kind."""

AfterWrite = Callable[[str, Any | None, Any], Awaitable[None]]
"""Called with (tenant, previous version or ``None``, new version) after a row is written."""


def in_table(table: ConfigTable) -> Callable[[Ingest], Collection]:
    """A resource kept in a configuration table."""
    return lambda ingest: TableCollection(ingest.config, table)


def in_documents(kind: DocumentKind) -> Callable[[Ingest], Collection]:
    """A resource kept as a kind of configuration document."""
    return lambda ingest: DocumentCollection(ingest.documents, kind)


@dataclass(frozen=True)
class Resource:
    """One configuration resource of the Admin API."""

    name: str
    """The operations' names: ``list_<name>``, ``get_<name>``, …"""
    path: str
    tag: str
    singular: str
    """How messages name one row: ``Metric``, ``Points trigger``…"""
    stored: Callable[[Ingest], Collection]
    create: Callable[[Mapping[str, Any], ItemContext], Mapping[str, Any]]
    """A create item → the new row's fields (its draft)."""
    update: Callable[[Mapping[str, Any], Any, ItemContext], Mapping[str, Any]]
    """An update item and the current row → the next version (its revision)."""
    to_json: Callable[[Any, ItemContext], dict[str, Any]]
    create_schema: schemas.Schema = field(
        default_factory=lambda: schemas.array_of({"type": "object"})
    )
    update_schema: schemas.Schema = field(
        default_factory=lambda: schemas.array_of({"type": "object", "required": ["id"]})
    )
    scoped: bool = False
    """Nested under a points system: ``path`` holds ``{system_id}``."""
    children: tuple[tuple[str, Resource], ...] = ()
    """Resources created inside this one's create items (a points system's levels, …)."""
    uses_config: bool = True
    """Whether validation looks at the tenant's configuration (references to check)."""


def add_resource_routes(  # noqa: C901 (routes are closures, counted here)
    router: APIRouter, ingest: Ingest, res: Resource, after_write: AfterWrite | None = None
) -> None:
    """List, get, create, update and delete for ``res``."""
    rows = res.stored(ingest)
    children = [(name, child, child.stored(ingest)) for name, child in res.children]

    async def context(tenant: str, system_id: uuid.UUID | None) -> ItemContext:
        now = ingest.clock()
        if not (res.uses_config or res.scoped):
            return ItemContext(tenant, now, ConfigHistory())
        config = await ingest.config.current(tenant, now)
        if res.scoped and system_id not in config.points_at(tenant, now).systems:
            fail(404, f"Points system {system_id} not found")
        return ItemContext(tenant, now, config, system_id)

    def scope_of(system_id: uuid.UUID | None) -> str:
        return str(system_id) if res.scoped else ""

    def owned_by(system_id: uuid.UUID | None) -> str | None:
        """The scope a looked-up row must have: its points system's, or any."""
        return scope_of(system_id) if res.scoped else None

    async def written(tenant: str, before: Any | None, after: Any) -> None:
        await ingest.current_config.forget(tenant)
        if after_write is not None:
            await after_write(tenant, before, after)

    async def list_(tenant: str, paging: Any, system_id: uuid.UUID | None = None) -> Any:
        ctx = await context(tenant, system_id)
        found = await rows.page(tenant, scope_of(system_id), paging.limit, paging.skip)
        return [res.to_json(r, ctx) for r in found]

    async def get(tenant: str, id: uuid.UUID, system_id: uuid.UUID | None = None) -> Any:
        ctx = await context(tenant, system_id)
        found = await rows.get(tenant, id, owned_by(system_id))
        if found is None:
            fail(404, f"{res.singular} {id} not found")
        return res.to_json(found, ctx)

    async def create(request: Request, tenant: str, system_id: uuid.UUID | None = None) -> Any:
        ctx = await context(tenant, system_id)

        async def act(index: int, item: dict[str, Any]) -> dict[str, Any]:
            draft = res.create(item, ctx)
            row_id = uuid.uuid4()
            inner = replace(ctx, system_id=row_id)
            nested: list[tuple[str, Resource, Collection, Mapping[str, Any]]] = []
            for name, child, child_rows in children:  # all validated before anything is written
                raw = item.get(name) or []
                if not isinstance(raw, list) or len(raw) > MAX_NESTED:
                    raise ItemError(f"{name} must be an array of at most {MAX_NESTED} items")
                for position, sub in enumerate(raw):
                    if not isinstance(sub, dict):
                        raise ItemError(f"{name}[{position}] must be an object")
                    try:
                        nested.append((name, child, child_rows, child.create(sub, inner)))
                    except ItemError as exc:
                        raise ItemError(f"{name}[{position}]: {exc}") from None
            try:
                row = await rows.insert(tenant, scope_of(system_id), row_id, draft, ctx.now)
            except DuplicateKey:
                raise ItemError(f"key {draft.get('key')!r} is already in use") from None
            answer = res.to_json(row, ctx)
            for name, child, child_rows, child_draft in nested:
                try:
                    made = await child_rows.insert(
                        tenant, str(row_id), uuid.uuid4(), child_draft, ctx.now
                    )
                except DuplicateKey:
                    raise ItemError(f"{name}: key {child_draft.get('key')!r} is repeated") from None
                answer.setdefault(name, []).append(child.to_json(made, inner))
            for name, _ in res.children:
                answer.setdefault(name, [])
            await written(tenant, None, row)
            return answer

        made, issues = await for_each_item(parse_items(await json_body(request)), act)
        return created_response(made, issues)

    async def update(request: Request, tenant: str, system_id: uuid.UUID | None = None) -> Any:
        ctx = await context(tenant, system_id)

        async def act(index: int, item: dict[str, Any]) -> dict[str, Any]:
            row_id = item_id(item)
            current = await rows.get(tenant, row_id, owned_by(system_id))
            if current is None:
                raise ItemError(f"{res.singular} {row_id} not found")
            revision = res.update(item, current, ctx)
            try:
                row = await rows.revise(tenant, row_id, revision, ctx.now)
            except DuplicateKey:
                raise ItemError(f"key {revision.get('key')!r} is already in use") from None
            if row is None:
                raise ItemError(f"{res.singular} {row_id} not found")
            await written(tenant, current, row)
            return res.to_json(row, ctx)

        updated, issues = await for_each_item(parse_items(await json_body(request)), act)
        return {"updated": updated, "issues": issues}

    async def delete(tenant: str, ids: list[str] | None, system_id: uuid.UUID | None = None) -> Any:
        ctx = await context(tenant, system_id)

        async def remove(row_id: uuid.UUID) -> bool:
            return await rows.delete(tenant, row_id, ctx.now, owned_by(system_id))

        answer = await delete_each(ids, remove, res.singular)
        await ingest.current_config.forget(tenant)
        return answer

    name = res.name
    extra_create = schemas.body(res.create_schema)
    extra_update = schemas.body(res.update_schema)
    if res.scoped:

        @router.get(res.path, tags=[res.tag], name=f"list_{name}")
        async def scoped_list(system_id: uuid.UUID, tenant: Tenant, paging: Paging) -> Any:
            return await list_(tenant, paging, system_id)

        @router.get(res.path + "/{id}", tags=[res.tag], name=f"get_{name}")
        async def scoped_get(system_id: uuid.UUID, id: uuid.UUID, tenant: Tenant) -> Any:
            return await get(tenant, id, system_id)

        @router.post(res.path, tags=[res.tag], name=f"create_{name}", openapi_extra=extra_create)
        async def scoped_create(system_id: uuid.UUID, request: Request, tenant: Tenant) -> Any:
            return await create(request, tenant, system_id)

        @router.patch(res.path, tags=[res.tag], name=f"update_{name}", openapi_extra=extra_update)
        async def scoped_update(system_id: uuid.UUID, request: Request, tenant: Tenant) -> Any:
            return await update(request, tenant, system_id)

        @router.delete(res.path, tags=[res.tag], name=f"delete_{name}")
        async def scoped_delete(
            system_id: uuid.UUID, tenant: Tenant, ids: Annotated[list[str] | None, Query()] = None
        ) -> Any:
            return await delete(tenant, ids, system_id)

        return

    @router.get(res.path, tags=[res.tag], name=f"list_{name}")
    async def plain_list(tenant: Tenant, paging: Paging) -> Any:
        return await list_(tenant, paging)

    @router.get(res.path + "/{id}", tags=[res.tag], name=f"get_{name}")
    async def plain_get(id: uuid.UUID, tenant: Tenant) -> Any:
        return await get(tenant, id)

    @router.post(res.path, tags=[res.tag], name=f"create_{name}", openapi_extra=extra_create)
    async def plain_create(request: Request, tenant: Tenant) -> Any:
        return await create(request, tenant)

    @router.patch(res.path, tags=[res.tag], name=f"update_{name}", openapi_extra=extra_update)
    async def plain_update(request: Request, tenant: Tenant) -> Any:
        return await update(request, tenant)

    @router.delete(res.path, tags=[res.tag], name=f"delete_{name}")
    async def plain_delete(tenant: Tenant, ids: Annotated[list[str] | None, Query()] = None) -> Any:
        return await delete(tenant, ids)
