"""Composition root of the api process: the connections behind the HTTP edge."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from api.app import Served
from api.app import create_app as create_http_app
from api.application.leaderboards import Standings
from api.limits import RateLimiter
from api.metrics import ApiMetrics
from api.operations import build_router
from ingest.clock import Clock
from ingest.publisher import KafkaCommandPublisher
from ingest.service import Ingest
from ingest.waiter import OutcomeWaiter
from laurel import __version__
from laurel.clock import clock_for
from laurel.operations import database_check, kafka_check
from laurel.settings import Settings
from laurel.topics import ensure_configured_topics
from laurel.webhooks import destinations
from projections.store.config import CONFIG_CHANNEL, CachedConfig, ConfigStore
from projections.store.connections import connection_pool
from projections.store.decided import OUTCOMES_CHANNEL
from projections.store.documents import DocumentStore
from projections.store.keys import KEYS_CHANNEL, KeyStore
from projections.store.listener import NotificationListener
from projections.store.ranking_cache import RankingCache
from projections.store.reads import PROJECTION_CHANNEL, ProjectionReader
from projections.store.webhooks import WebhookStore

log = logging.getLogger("laurel.api")

REQUEST_ID_FILTER = "api.request_ids.RequestIdFilter"
"""The log filter tagging each line with the id of the request it was logged for."""


def create_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    """The api process's application over PostgreSQL and Kafka; connections open in the
    lifespan, not here."""
    clock = clock or clock_for(settings.clock_file)
    database_url = settings.require_database_url()
    pool = connection_pool(database_url, max_size=settings.db_pool_max)
    reader = ProjectionReader(pool)
    registry = CollectorRegistry()
    metrics = ApiMetrics(registry)
    waiter = OutcomeWaiter(reader, on_timeout=metrics.sync_timeouts.inc)
    metrics.watch_waiters(waiter.waiting)
    publisher = KafkaCommandPublisher(
        settings.bootstrap_servers, settings.commands_topic, settings.api_producer_linger_ms
    )
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
        DocumentStore(pool),
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
        await ensure_configured_topics(settings)
        await publisher.start()
        await listener.start()
        try:
            yield
        finally:
            await listener.stop()
            await publisher.stop()
            await pool.close()

    served = Served(
        ingest=ingest,
        standings=standings,
        keys=keys,
        limiter=RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst),
        max_body_bytes=settings.max_body_bytes,
        clock=clock,
        webhooks=WebhookStore(pool),
        check_url=destinations(settings).problem,
    )
    operations = build_router(registry, [database_check(pool), kafka_check(publisher)])
    return create_http_app(served, __version__, lifespan, operations, metrics, settings.access_log)
