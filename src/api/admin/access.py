"""Admin API for access: application API keys and tenants.

Application keys are bound to one user of one tenant (the request's Tenant-ID; Trophy's
endpoint takes no Tenant-ID, Laurel's uses it to say whose user). Deleting a tenant archives it:
its data stays, and requests naming it answer 404 until it is made active again with PATCH.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from api import schemas
from api.admin.fields import item_id, item_text
from api.admin.items import (
    ItemError,
    created_response,
    delete_each,
    for_each_item,
    parse_items,
)
from api.auth import Tenant
from api.presenters import iso
from api.requests import Paging, fail, json_body
from ingest.service import Ingest
from projections.store.keys import KeyStore
from projections.store.keys import Tenant as TenantRow


def tenant_json(row: TenantRow) -> dict[str, Any]:
    """Trophy's ``AdminTenant``."""
    return {
        "id": str(row.id),
        "customerId": row.customer_id,
        "name": row.name,
        "status": row.status,
        "created": iso(row.created),
        "updated": iso(row.updated),
    }


def build_router(ingest: Ingest, keys: KeyStore) -> APIRouter:  # noqa: C901 (routes are closures, counted here)
    """Application API keys (create, delete), tenants (list, get, create, update, archive) and the
    installation's environment."""
    router = APIRouter()

    @router.post(
        "/application-api-keys",
        tags=["access"],
        openapi_extra=schemas.body(schemas.CREATE_APPLICATION_KEYS),
    )
    async def create_application_keys(request: Request, tenant: Tenant) -> Any:
        """Create keys that act only for one user on the Application API; each key is shown
        once, in this response."""

        async def act(index: int, item: dict[str, Any]) -> dict[str, Any]:
            user_id = item_text(item, "userId")
            key, full = await keys.create("application", tenant=tenant, user_id=user_id)
            return {"id": str(key.id), "userId": user_id, "key": full, "prefix": key.prefix}

        created, issues = await for_each_item(parse_items(await json_body(request)), act)
        return created_response(created, issues)

    @router.delete("/application-api-keys", tags=["access"])
    async def delete_application_keys(ids: Annotated[list[str] | None, Query()] = None) -> Any:
        async def remove(key_id: uuid.UUID) -> bool:
            return await keys.delete(key_id, "application")

        return await delete_each(ids, remove, "application API key")

    @router.get("/environments", tags=["access"])
    async def list_environments() -> Any:
        """A Laurel installation is one environment; run one stack per environment."""
        return [{"name": ingest.environment, "key": ingest.environment.lower(), "priority": 0}]

    @router.get("/tenants", tags=["access"])
    async def list_tenants(paging: Paging) -> Any:
        return [tenant_json(t) for t in await keys.tenants(paging.limit, paging.skip)]

    @router.get("/tenants/{id}", tags=["access"])
    async def get_tenant(id: uuid.UUID) -> Any:
        found = await keys.tenant_by_id(id)
        if found is None:
            fail(404, f"Tenant {id} not found")
        return tenant_json(found)

    @router.post("/tenants", tags=["access"], openapi_extra=schemas.body(schemas.CREATE_TENANTS))
    async def create_tenants(request: Request) -> Any:
        now = ingest.clock()

        async def act(index: int, item: dict[str, Any]) -> dict[str, Any]:
            customer_id, name = item_text(item, "customerId"), item_text(item, "name")
            created = await keys.create_tenant(customer_id, name, now)
            if created is None:
                raise ItemError(f"customerId {customer_id!r} is already in use")
            return tenant_json(created)

        created, issues = await for_each_item(parse_items(await json_body(request)), act)
        return created_response(created, issues)

    @router.patch("/tenants", tags=["access"], openapi_extra=schemas.body(schemas.UPDATE_TENANTS))
    async def update_tenants(request: Request) -> Any:
        now = ingest.clock()

        async def act(index: int, item: dict[str, Any]) -> dict[str, Any]:
            changes: dict[str, str] = {}
            if "name" in item:
                name = item_text(item, "name")
                changes["name"] = name
            if "status" in item:
                if item["status"] not in ("active", "archived"):
                    raise ItemError("status must be 'active' or 'archived'")
                changes["status"] = item["status"]
            if "customerId" in item:
                raise ItemError("customerId cannot change")
            updated = await keys.update_tenant(item_id(item), changes, now)
            if updated is None:
                raise ItemError(f"Tenant {item.get('id')} not found")
            return tenant_json(updated)

        updated, issues = await for_each_item(parse_items(await json_body(request)), act)
        return {"updated": updated, "issues": issues}

    @router.delete("/tenants", tags=["access"])
    async def delete_tenants(ids: Annotated[list[str] | None, Query()] = None) -> Any:
        now = ingest.clock()

        async def archive(tenant_id: uuid.UUID) -> bool:
            return await keys.update_tenant(tenant_id, {"status": "archived"}, now) is not None

        return await delete_each(ids, archive, "Tenant")

    return router
