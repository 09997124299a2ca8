"""Composition root of the webhooks process: the delivery loop over PostgreSQL and an HTTP
client that reaches only checked addresses."""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import timedelta

import httpx
from prometheus_client import CollectorRegistry

from laurel.operations import database_check, operations_endpoints
from laurel.settings import Settings
from processors.webhooks.destinations import Destinations, checked_client, parse_cidrs
from processors.webhooks.metrics import DeliveryMetrics
from processors.webhooks.retry import parse_schedule
from processors.webhooks.service import DeliveryPolicy, WebhookDeliverer
from projections.store.connections import connection_pool
from projections.store.listener import NotificationListener
from projections.store.webhooks import WEBHOOKS_CHANNEL, WebhookStore

log = logging.getLogger("laurel.webhooks")

WEBHOOKS_READY = "webhooks ready"
"""Logged once the process listens for work (``laurel up`` waits for it)."""


def delivery_policy(settings: Settings) -> DeliveryPolicy:
    """The settings' delivery policy."""
    return DeliveryPolicy(
        schedule=parse_schedule(settings.webhook_retry_schedule),
        timeout_s=settings.webhook_timeout_s,
        disable_after=timedelta(seconds=settings.webhook_disable_after_s),
        retention=timedelta(days=settings.webhook_retention_days),
        concurrency=settings.webhook_concurrency,
    )


def destinations(settings: Settings) -> Destinations:
    """Which addresses webhooks may reach."""
    return Destinations(parse_cidrs(settings.webhook_allowed_cidrs))


def delivery_client(settings: Settings) -> httpx.AsyncClient:
    """The HTTP client deliveries go through."""
    return checked_client(
        destinations(settings), settings.webhook_timeout_s, settings.webhook_concurrency
    )


async def run_webhooks(settings: Settings) -> None:
    """Deliver until SIGTERM or SIGINT."""
    # httpx logs every request with its URL at INFO; a customer's URL may carry a token
    logging.getLogger("httpx").setLevel(logging.WARNING)
    database_url = settings.require_database_url()
    pool = connection_pool(database_url, max_size=4)
    await pool.open(wait=True, timeout=60)
    client = delivery_client(settings)
    registry = CollectorRegistry()
    deliverer = WebhookDeliverer(
        WebhookStore(pool), client, delivery_policy(settings), DeliveryMetrics(registry)
    )
    listener = NotificationListener(database_url)
    listener.on(WEBHOOKS_CHANNEL, deliverer.on_notification)
    listener.on_reconnect(deliverer.on_notification)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await listener.start()
    try:
        async with operations_endpoints(settings, registry, [database_check(pool)]):
            log.info(WEBHOOKS_READY)
            await deliverer.run(stop)
    finally:
        await listener.stop()
        await client.aclose()
        await pool.close()
