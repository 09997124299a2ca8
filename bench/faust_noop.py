"""Baseline: a Faust agent that does nothing but take batches, as the processor does.

Run as ``python -m bench.faust_noop <bootstrap> <topic> <count>``; prints events/s once it has
consumed ``count`` events, then exits.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time

import faust


def main() -> None:
    bootstrap, topic_name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    sys.argv = [sys.argv[0], "worker", "--loglevel", "WARNING"]
    app = faust.App(
        f"bench-noop-{topic_name}",
        broker=f"kafka://{bootstrap}",
        store="memory://",
        datadir=tempfile.mkdtemp(prefix="bench-noop-"),  # not the working directory
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
    )
    topic = app.topic(topic_name, key_serializer="raw", value_serializer="raw")
    seen = 0
    started: float | None = None

    @app.agent(topic, concurrency=1)
    async def noop(stream: faust.StreamT[bytes]) -> None:
        nonlocal seen, started
        async for events in stream.take_events(500, 0.02):  # type: ignore[attr-defined]
            if started is None:
                started = time.perf_counter()
            seen += len(events)
            if seen >= count:
                elapsed = time.perf_counter() - started
                print(f"faust-noop {seen} events in {elapsed:.2f}s", flush=True)
                print(f"RATE {seen / elapsed:.0f}", flush=True)
                os._exit(0)

    asyncio.set_event_loop(asyncio.new_event_loop())
    faust.Worker(app, loglevel="WARNING", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
