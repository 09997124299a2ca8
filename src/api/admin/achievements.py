"""The Admin API's achievements (Trophy's fields, as versioned documents) and Laurel's
``GET /admin/v1/achievements/{id}/backdating``: how far backdating an achievement got."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter

from api.admin.documents import ACHIEVEMENTS, add_document_routes
from api.auth import Tenant
from api.requests import fail
from ingest.backdating import Backdating
from ingest.service import Ingest
from projections.store.documents import BackdateLog


def build_router(ingest: Ingest) -> APIRouter:
    router = APIRouter()
    docs = ingest.documents
    backdates = BackdateLog(ingest.config.pool)
    backdating = Backdating(ingest, backdates)
    add_document_routes(router, ingest, docs, ACHIEVEMENTS, backdating.after_write)

    @router.get("/achievements/{id}/backdating", tags=["achievements"])
    async def backdating_progress(id: uuid.UUID, tenant: Tenant) -> Any:
        """Laurel's addition: how far backdating of the achievement's latest version got."""
        found = await backdates.latest(tenant, id)
        if found is None:
            fail(404, f"Achievement {id} has not been backdated")
        return {"queuedUsers": found.queued, "finished": found.finished is not None}

    return router
