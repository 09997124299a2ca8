"""Composition root of the api process: the FastAPI application and its connections."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from aiokafka.errors import KafkaError
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ingest import achievements as achievement_writes
from ingest import streaks as streak_writes
from ingest import unsupported
from ingest.access import build_access_router
from ingest.admin import build_admin_router
from ingest.publisher import KafkaCommandPublisher
from ingest.routes import build_router as build_ingest_router
from ingest.service import Ingest
from ingest.waiter import OutcomeWaiter
from laurel import __version__
from laurel.clock import Clock, clock_for
from laurel.settings import Settings
from laurel.topics import ensure_topics
from projections.query import leaderboards as leaderboard_reads
from projections.query import rewards as reward_reads
from projections.query import streaks as streak_reads
from projections.query.auth import admin_principal, principal
from projections.query.leaderboards import Standings
from projections.query.limits import RateLimiter
from projections.query.routes import build_router as build_query_router
from projections.query.schemas import ERROR_RESPONSES
from projections.store.config import CONFIG_CHANNEL, CachedConfig, ConfigStore
from projections.store.keys import KEYS_CHANNEL, KeyStore
from projections.store.listener import NotificationListener
from projections.store.postgres import OUTCOMES_CHANNEL, connection_pool
from projections.store.ranking_cache import RankingCache
from projections.store.reads import PROJECTION_CHANNEL, ProjectionReader

log = logging.getLogger("laurel.api")


def _describe(error: dict[str, Any]) -> str:
    where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path"))
    return f"{where}: {error.get('msg')}" if where else str(error.get("msg"))


def install_error_handlers(app: FastAPI) -> None:
    """Every error answers Trophy's ``{"error": "..."}`` naming the problem."""

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(
            {"error": str(exc.detail)},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            {"error": "; ".join(_describe(e) for e in exc.errors())}, status_code=422
        )

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("dependency unavailable on %s %s: %r", request.method, request.url.path, exc)
        return JSONResponse(
            {"error": f"temporarily unavailable ({type(exc).__name__}); retry shortly"},
            status_code=503,
            headers={"Retry-After": "1"},
        )

    for infrastructure in (KafkaError, psycopg.OperationalError, PoolTimeout):
        app.add_exception_handler(infrastructure, unavailable)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"error": "internal error"}, status_code=500)


class RequestGuard:
    """Refuses, before any route runs, what no route could handle:

    * a NUL character in the path or query (PostgreSQL could never store or find it): 400;
    * a body over ``max_bytes``, by Content-Length or while it streams in: 413.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
            refused = JSONResponse({"error": "the URL contains a NUL character"}, 400)
            await refused(scope, receive, send)
            return
        too_large = JSONResponse(
            {"error": f"request body larger than {self.max_bytes} bytes"}, status_code=413
        )
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await too_large(scope, receive, send)
            return
        seen, exceeded, started = 0, False, False

        async def limited() -> Message:
            nonlocal seen, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                exceeded = True  # the app sees a disconnect; we answer 413 below
                return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return
            started = True
            await send(message)

        try:
            await self.app(scope, limited, guarded)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await too_large(scope, receive, send)


def create_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    """The api process's application; connections open in the lifespan, not here."""
    clock = clock or clock_for(settings.clock_file)
    database_url = settings.require_database_url()
    pool = connection_pool(database_url, max_size=settings.db_pool_max)
    reader = ProjectionReader(pool)
    waiter = OutcomeWaiter(reader)
    publisher = KafkaCommandPublisher(settings.bootstrap_servers, settings.commands_topic)
    listener = NotificationListener(database_url)
    listener.on(OUTCOMES_CHANNEL, waiter.on_notification)

    listener.on(PROJECTION_CHANNEL, reader.forget_schema)
    listener.on_reconnect(reader.forget_schema)
    config = ConfigStore(pool)
    current_config = CachedConfig(config)
    listener.on(CONFIG_CHANNEL, current_config.forget)
    listener.on_reconnect(current_config.forget_all)
    listener.on_reconnect(waiter.recheck)
    ingest = Ingest(
        publisher,
        waiter,
        config,
        current_config,
        reader,
        clock,
        settings.sync_timeout_s,
        settings.environment,
    )
    standings = Standings(reader, current_config, RankingCache(pool), clock)
    keys = KeyStore(pool)
    listener.on(KEYS_CHANNEL, keys.forget)
    listener.on_reconnect(keys.forget)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await pool.open(wait=True, timeout=60)
        if settings.bootstrap_admin_key is not None:
            bootstrap = settings.bootstrap_admin_key.get_secret_value()
            if not await keys.ensure_admin(bootstrap) and await keys.verify(bootstrap) is None:
                log.warning(
                    "LAUREL_BOOTSTRAP_ADMIN_KEY was not stored: its prefix belongs to another "
                    "or a revoked key"
                )
        elif not await keys.has_admin():
            log.warning("no admin API key exists: set LAUREL_BOOTSTRAP_ADMIN_KEY (laurel up does)")
        await ensure_topics(
            settings.bootstrap_servers,
            settings.commands_topic,
            settings.dead_letter_topic,
            settings.partitions,
        )
        await publisher.start()
        await listener.start()
        try:
            yield
        finally:
            await listener.stop()
            await publisher.stop()
            await pool.close()

    app = FastAPI(
        title="Laurel",
        version=__version__,
        description="Self-hosted gamification backend, wire-compatible with Trophy's API.",
        lifespan=lifespan,
    )
    app.state.keys = keys
    app.state.limiter = RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst)
    install_error_handlers(app)
    app.add_middleware(RequestGuard, max_bytes=settings.max_body_bytes)
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
    answer = standings.event_answer
    app.include_router(build_ingest_router(ingest, answer), **application)
    app.include_router(build_query_router(reader, current_config, clock, answer), **application)
    app.include_router(leaderboard_reads.build_router(standings), **application)
    app.include_router(reward_reads.build_router(reader, current_config, clock), **application)
    app.include_router(achievement_writes.build_router(ingest), **application)
    app.include_router(streak_writes.build_application_router(ingest), **application)
    app.include_router(streak_reads.build_router(reader, current_config, clock), **application)
    app.include_router(build_admin_router(ingest), **admin)
    app.include_router(streak_writes.build_admin_router(ingest), **admin)
    app.include_router(streak_reads.build_admin_router(current_config, clock), **admin)
    app.include_router(achievement_writes.build_admin_router(ingest), **admin)
    app.include_router(build_access_router(ingest, keys), **admin)
    app.include_router(unsupported.build_application_router(), **application)
    app.include_router(unsupported.build_admin_router(), **admin)

    @app.get("/health", tags=["operations"])
    async def health() -> dict[str, str]:
        """Liveness and readiness: answers once Kafka and Postgres connections are open."""
        return {"status": "ok", "version": __version__}

    return app
