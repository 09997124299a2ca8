"""Composition root of the processor process: the Faust worker folding the commands topic, and
its operator's endpoints (:mod:`laurel.operations`)."""

from __future__ import annotations

import asyncio
import functools

import uvloop
from faust import Worker
from prometheus_client import CollectorRegistry

from laurel.clock import clock_for
from laurel.logs import logging_config
from laurel.operations import database_check, operations_endpoints
from laurel.settings import Settings
from laurel.topics import ensure_configured_topics
from processors.app import ProcessorOptions, build_app
from processors.collector import tune_collector
from processors.metrics import ProcessorMetrics
from projections.store.connections import connection_pool


def run_processor(settings: Settings) -> None:
    """Run one processor worker until SIGTERM or SIGINT (Faust handles both)."""
    database_url = settings.require_database_url()
    # uvloop: the worker's loop and the consumer thread's both (Faust makes that one with
    # asyncio.new_event_loop, which follows the policy).
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.run(ensure_configured_topics(settings))
    data_dir = settings.home / "processor-data"
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    options = ProcessorOptions(
        bootstrap_servers=settings.bootstrap_servers,
        database_url=database_url,
        commands_topic=settings.commands_topic,
        dead_letter_topic=settings.dead_letter_topic,
        group=settings.processor_group,
        partitions=settings.partitions,
        batch_max=settings.processor_batch_max,
        cache_users=settings.processor_cache_users,
        session_timeout_s=settings.processor_session_timeout_s,
        scheduler_interval_s=settings.scheduler_interval_s,
        scheduler_resend_after_s=settings.scheduler_resend_after_s,
        clock=clock_for(settings.clock_file),
        data_dir=data_dir,
    )
    registry = CollectorRegistry()
    asyncio.set_event_loop(asyncio.new_event_loop())
    app, probe = build_app(options, ProcessorMetrics(registry))
    tune_collector(settings.processor_gc_threshold)

    @app.task  # type: ignore[untyped-decorator]
    async def operations() -> None:
        """Serve /metrics and /health/* while the worker runs."""
        pool = connection_pool(database_url, max_size=1)
        await pool.open(wait=True, timeout=60)
        checks = [probe.has_joined, database_check(pool)]
        try:
            refresh = functools.partial(probe.refresh_lags, pool)
            async with operations_endpoints(settings, registry, checks, [refresh]):
                await asyncio.Future()  # cancelled when the worker stops
        finally:
            await pool.close()

    Worker(
        app, loglevel="INFO", quiet=True, logging_config=logging_config(settings.log_format)
    ).execute_from_commandline()
