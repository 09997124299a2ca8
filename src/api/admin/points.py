"""The Admin API's points systems and, under each, its triggers, levels and boosts (Trophy's
fields, as versioned documents)."""

from __future__ import annotations

from fastapi import APIRouter

from api.admin.documents import SCOPED, SYSTEMS, add_document_routes
from ingest.service import Ingest


def build_router(ingest: Ingest) -> APIRouter:
    router = APIRouter()
    add_document_routes(router, ingest, ingest.documents, SYSTEMS)
    for kind in SCOPED:
        add_document_routes(router, ingest, ingest.documents, kind)
    return router
