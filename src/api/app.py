"""The ASGI application: every router mounted on what it serves, with auth, limits and errors."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, FastAPI

import api.admin.access
import api.admin.achievements
import api.admin.analytics
import api.admin.leaderboards
import api.admin.metrics
import api.admin.points
import api.admin.streaks
import api.admin.webhooks
import api.application.completions
import api.application.events
import api.application.leaderboards
import api.application.preferences
import api.application.rewards
import api.application.streaks
import api.application.users
import api.application.wrapped
from api import dashboard, unsupported
from api.admin.webhooks import CheckUrl
from api.application.leaderboards import Standings
from api.auth import admin_principal, principal
from api.errors import install_error_handlers
from api.guard import RequestGuard
from api.limits import RateLimiter
from api.metrics import ApiMetrics, RequestMetrics
from api.request_ids import RequestIds
from api.schemas import ERROR_RESPONSES
from ingest.clock import Clock
from ingest.service import Ingest
from projections.store.keys import KeyStore
from projections.store.webhooks import WebhookStore

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


@dataclass(frozen=True)
class Served:
    """What the HTTP edge serves: the write path, the read side, the keys and webhooks."""

    ingest: Ingest
    standings: Standings
    keys: KeyStore
    limiter: RateLimiter
    max_body_bytes: int
    clock: Clock
    webhooks: WebhookStore
    check_url: CheckUrl
    """Whether a webhook destination may be configured (its form and where it resolves)."""


def create_app(
    served: Served,
    version: str,
    lifespan: Lifespan | None = None,
    operations: APIRouter | None = None,
    metrics: ApiMetrics | None = None,
    access_log: bool = False,
) -> FastAPI:
    """The application; ``lifespan`` opens and closes the connections behind ``served``;
    ``operations`` are the operator's endpoints (:mod:`api.operations`), ``metrics`` counts
    every request (and logs each with ``access_log``)."""
    app = FastAPI(
        title="Laurel",
        version=version,
        description="Self-hosted gamification backend, wire-compatible with Trophy's API.",
        lifespan=lifespan,
    )
    app.state.keys = served.keys
    app.state.limiter = served.limiter
    install_error_handlers(app)
    app.add_middleware(RequestGuard, max_bytes=served.max_body_bytes)
    if metrics is not None:  # outside the guard, so what it refuses is counted too
        app.add_middleware(RequestMetrics, metrics=metrics, access_log=access_log)
    app.add_middleware(RequestIds)  # outermost: every line logged for a request carries its id
    on_application: dict[str, Any] = {
        "prefix": "/v1",
        "dependencies": [Depends(principal)],
        "responses": ERROR_RESPONSES,
    }
    on_admin: dict[str, Any] = {
        "prefix": "/admin/v1",
        "dependencies": [Depends(admin_principal)],
        "responses": ERROR_RESPONSES,
    }
    ingest, clock = served.ingest, served.clock
    reader, config = ingest.reader, ingest.current_config
    answer = served.standings.event_answer
    for router in (
        api.application.events.build_router(ingest, answer),
        api.application.users.build_router(reader, config, clock, answer),
        api.application.leaderboards.build_router(served.standings),
        api.application.rewards.build_router(reader, config, clock),
        api.application.completions.build_router(ingest),
        api.application.preferences.build_router(ingest),
        api.application.streaks.build_router(reader, config, clock),
        api.application.wrapped.build_router(reader, config, clock),
        unsupported.build_application_router(),
    ):
        app.include_router(router, **on_application)
        if metrics is not None:
            metrics.mounted("/v1", router.routes)
    for router in (
        api.admin.metrics.build_router(ingest),
        api.admin.streaks.build_router(ingest),
        api.admin.achievements.build_router(ingest),
        api.admin.points.build_router(ingest),
        api.admin.leaderboards.build_router(ingest),
        api.admin.access.build_router(ingest, served.keys),
        api.admin.webhooks.build_router(served.webhooks, served.check_url),
        api.admin.analytics.build_router(reader, config, clock),
        unsupported.build_admin_router(),
    ):
        app.include_router(router, **on_admin)
        if metrics is not None:
            metrics.mounted("/admin/v1", router.routes)

    dashboard.mount(app)
    if operations is not None:
        app.include_router(operations)

    @app.get("/health", tags=["operations"])
    async def health() -> dict[str, str]:
        """Liveness and readiness: answers once Kafka and Postgres connections are open."""
        return {"status": "ok", "version": version}

    return app
