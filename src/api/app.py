"""The ASGI application: every router mounted on what it serves, with auth, limits and errors."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI

from api import unsupported
from api.admin import achievements as achievement_admin
from api.admin import leaderboards as leaderboard_admin
from api.admin import metrics as metrics_admin
from api.admin import points as points_admin
from api.admin import streaks as streak_admin
from api.admin.access import build_access_router
from api.application import completions, preferences
from api.application import leaderboards as leaderboard_reads
from api.application import rewards as reward_reads
from api.application import streaks as streak_reads
from api.application.events import build_router as build_ingest_router
from api.application.leaderboards import Standings
from api.application.users import build_router as build_query_router
from api.auth import admin_principal, principal
from api.errors import install_error_handlers
from api.guard import RequestGuard
from api.limits import RateLimiter
from api.schemas import ERROR_RESPONSES
from ingest.clock import Clock
from ingest.service import Ingest
from projections.store.keys import KeyStore

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


@dataclass(frozen=True)
class Served:
    """What the HTTP edge serves: the write path, the read side and the keys."""

    ingest: Ingest
    standings: Standings
    keys: KeyStore
    limiter: RateLimiter
    max_body_bytes: int
    clock: Clock


def create_app(served: Served, version: str, lifespan: Lifespan | None = None) -> FastAPI:
    """The application; ``lifespan`` opens and closes the connections behind ``served``."""
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
    application: dict[str, Any] = {
        "prefix": "/v1",
        "dependencies": [Depends(principal)],
        "responses": ERROR_RESPONSES,
    }
    admin: dict[str, Any] = {
        "prefix": "/admin/v1",
        "dependencies": [Depends(admin_principal)],
        "responses": ERROR_RESPONSES,
    }
    ingest, clock = served.ingest, served.clock
    reader, config = ingest.reader, ingest.current_config
    answer = served.standings.event_answer
    app.include_router(build_ingest_router(ingest, answer), **application)
    app.include_router(build_query_router(reader, config, clock, answer), **application)
    app.include_router(leaderboard_reads.build_router(served.standings), **application)
    app.include_router(reward_reads.build_router(reader, config, clock), **application)
    app.include_router(completions.build_router(ingest), **application)
    app.include_router(preferences.build_router(ingest), **application)
    app.include_router(streak_reads.build_router(reader, config, clock), **application)
    app.include_router(metrics_admin.build_router(ingest), **admin)
    app.include_router(streak_admin.build_router(ingest), **admin)
    app.include_router(achievement_admin.build_router(ingest), **admin)
    app.include_router(points_admin.build_router(ingest), **admin)
    app.include_router(leaderboard_admin.build_router(ingest), **admin)
    app.include_router(build_access_router(ingest, served.keys), **admin)
    app.include_router(unsupported.build_application_router(), **application)
    app.include_router(unsupported.build_admin_router(), **admin)

    @app.get("/health", tags=["operations"])
    async def health() -> dict[str, str]:
        """Liveness and readiness: answers once Kafka and Postgres connections are open."""
        return {"status": "ok", "version": version}

    return app
