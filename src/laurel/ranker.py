"""Composition root of the ranker process: observes ranks after entries change, finalises
runs, and announces the webhooks the clock and the rankings cause (:mod:`processors.ranker`,
:mod:`processors.announcer`). Off the processor's event loop, so a ranking round never delays
a batch; several may run, one leads (an advisory lock), the others stand by."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from datetime import timedelta

from prometheus_client import CollectorRegistry

from laurel.clock import clock_for
from laurel.operations import database_check, operations_endpoints
from laurel.settings import Settings
from processors.announcer import Announcer
from processors.metrics import RankerMetrics
from processors.ranker import Ranker, RankerReport
from projections.store.connections import connection_pool
from projections.store.leadership import AdvisoryLeadership

log = logging.getLogger("laurel.ranker")

RANKER_READY = "ranker ready"
"""Logged once the process runs its rounds or stands by (``laurel up`` waits for it)."""
RANKER_LOCK = 0x6C617572656C5231  # "laurelR1": the advisory lock the leading ranker holds


async def run_ranker(settings: Settings) -> None:
    """Run ranking rounds every ``LAUREL_RANKER_INTERVAL_S`` while leading, until SIGTERM or
    SIGINT."""
    database_url = settings.require_database_url()
    clock = clock_for(settings.clock_file)
    pool = connection_pool(database_url, max_size=4)
    await pool.open(wait=True, timeout=60)
    ranker = Ranker(pool, clock, timedelta(seconds=settings.rank_change_every_s))
    announcer = Announcer(pool, clock)
    leadership = AdvisoryLeadership(database_url, RANKER_LOCK, "ranker")
    registry = CollectorRegistry()
    metrics = RankerMetrics(registry)
    metrics.held.set_function(ranker.held)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with operations_endpoints(settings, registry, [database_check(pool)]):
            log.info(RANKER_READY)
            while not stop.is_set():
                leads = await leadership.leads()
                metrics.leader.set(1 if leads else 0)
                if leads:
                    await _round(metrics, ranker, announcer)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), settings.ranker_interval_s)
    finally:
        await leadership.close()
        await pool.close()


async def _round(metrics: RankerMetrics, ranker: Ranker, announcer: Announcer) -> None:
    """One leading round: the ranker's, then the announcer's, each counted and timed."""
    for part, round_ in (("ranker", ranker.run_once), ("announcer", announcer.run_once)):
        started = time.perf_counter()
        try:
            report = await round_()
        except Exception:
            metrics.rounds.labels(part, "failed").inc()
            log.exception("%s round failed; trying again next interval", part)
            continue
        metrics.rounds.labels(part, "ok").inc()
        metrics.duration.labels(part).observe(time.perf_counter() - started)
        if isinstance(report, RankerReport):
            metrics.observed.inc(report.observed)
            metrics.moved.inc(report.moved)
            metrics.finalised.inc(report.finalised)
