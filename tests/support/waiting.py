"""Waiting on conditions with a deadline, never on fixed sleeps.

Between two checks of a condition the wait blocks on what can change it:

* :class:`DatabaseChanges` — Laurel's NOTIFY channels (the processor's commits, the ranker's
  rounds, configuration and schema switches). It listens before the first check, so a change
  committed after that check always wakes it;
* :class:`ProcessExit` — a process ending (a pidfd, Linux);
* without either (a server that is starting, a Kafka consumer's progress), nothing offers a
  wake-up, and the wait backs off from 10 ms to 0.5 s between checks.

``RECHECK_S`` bounds each block anyway: a condition that depends on something that does not
notify (a clock file a test moved, a timer) is still re-checked.
"""

from __future__ import annotations

import asyncio
import os
import select
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Protocol, TypeVar

import psycopg
from psycopg import sql

T = TypeVar("T")

RECHECK_S = 1.0
CHANNELS = (
    "laurel_commits",
    "laurel_ranks",
    "laurel_config",
    "laurel_projection",
    "laurel_keys",
)
LISTEN = sql.SQL("; ").join(sql.SQL("LISTEN {}").format(sql.Identifier(c)) for c in CHANNELS)


class Wake(Protocol):
    def wait(self, timeout_s: float) -> None:
        """Return when what the condition depends on may have changed, or after ``timeout_s``."""


class _Backoff:
    def __init__(self) -> None:
        self.delay = 0.01

    def wait(self, timeout_s: float) -> None:
        time.sleep(min(self.delay, timeout_s))
        self.delay = min(self.delay * 2, 0.5)


class DatabaseChanges:
    """Wakes on any of Laurel's notifications in one database."""

    def __init__(self, conn: psycopg.Connection[object]) -> None:
        self.conn = conn

    def wait(self, timeout_s: float) -> None:
        for _ in self.conn.notifies(timeout=timeout_s, stop_after=1):
            pass


@contextmanager
def database_changes(database_url: str) -> Iterator[DatabaseChanges]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(LISTEN)
        yield DatabaseChanges(conn)


class ProcessExit:
    """Wakes when one of processes ``pids`` ends (or at once if one has)."""

    def __init__(self, *pids: int) -> None:
        self.pids = pids

    def wait(self, timeout_s: float) -> None:
        fds = []
        try:
            for pid in self.pids:
                try:
                    fds.append(os.pidfd_open(pid))
                except ProcessLookupError:
                    return
            poller = select.poll()
            for fd in fds:
                poller.register(fd, select.POLLIN)
            poller.poll(timeout_s * 1000)
        finally:
            for fd in fds:
                os.close(fd)


def wait_for(
    condition: Callable[[], T],
    timeout_s: float = 30.0,
    what: str = "condition",
    wake: Wake | None = None,
) -> T:
    """Check ``condition`` until it returns something truthy, blocking on ``wake`` in between;
    fail after ``timeout_s``."""
    waker: Wake = wake if wake is not None else _Backoff()
    deadline = time.monotonic() + timeout_s
    last: T = condition()
    while not last:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        waker.wait(min(left, RECHECK_S))
        last = condition()
    return last


def wait_for_change(
    database_url: str,
    condition: Callable[[], T],
    timeout_s: float = 30.0,
    what: str = "condition",
) -> T:
    """:func:`wait_for` a condition on Laurel's projection, woken by its notifications."""
    with database_changes(database_url) as changes:
        return wait_for(condition, timeout_s, what, changes)


async def wait_for_async(
    condition: Callable[[], Awaitable[T]],
    timeout_s: float = 30.0,
    what: str = "condition",
    database_url: str | None = None,
) -> T:
    """:func:`wait_for` for an asynchronous condition; with ``database_url``, woken by Laurel's
    notifications in that database, otherwise backing off."""
    deadline = time.monotonic() + timeout_s
    conn = None
    if database_url is not None:
        conn = await psycopg.AsyncConnection.connect(database_url, autocommit=True)
        await conn.execute(LISTEN)
    try:
        delay = 0.01
        last = await condition()
        while not last:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
            if conn is not None:
                async for _ in conn.notifies(timeout=min(left, RECHECK_S), stop_after=1):
                    pass
            else:
                await asyncio.sleep(min(delay, left))
                delay = min(delay * 2, 0.5)
            last = await condition()
        return last
    finally:
        if conn is not None:
            await conn.close()
