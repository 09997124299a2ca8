"""The operator's endpoints of the worker processes (processor, ranker, webhooks), and the
readiness checks every process shares (:mod:`api.operations` serves and runs them): PostgreSQL
answers and holds every migration this code carries; Kafka answers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from prometheus_client import CollectorRegistry
from psycopg_pool import AsyncConnectionPool

from api.operations import Check, build_router, ops_app, serving
from ingest.publisher import KafkaCommandPublisher
from laurel.settings import Settings
from projections.store.migrate import pending_migrations


def database_check(pool: AsyncConnectionPool[Any]) -> Check:
    """PostgreSQL answers through ``pool`` and its schema is current."""

    async def postgresql() -> str | None:
        async with pool.connection() as conn:
            pending = await pending_migrations(conn)
        return f"migrations not applied: {', '.join(pending)}" if pending else None

    return postgresql


def kafka_check(publisher: KafkaCommandPublisher) -> Check:
    """The brokers answer the publisher's metadata request."""

    async def kafka() -> str | None:
        return await publisher.reachable()

    return kafka


@asynccontextmanager
async def operations_endpoints(
    settings: Settings,
    registry: CollectorRegistry,
    checks: Sequence[Check],
    before_scrape: Sequence[Callable[[], Awaitable[None]]] = (),
) -> AsyncIterator[None]:
    """Serve ``/metrics`` and ``/health/*`` on ``LAUREL_OPS_HOST:LAUREL_OPS_PORT`` for the
    duration of the block."""
    app = ops_app(build_router(registry, checks, before_scrape))
    async with serving(app, settings.ops_host, settings.ops_port):
        yield
