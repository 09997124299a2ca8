"""One LISTEN connection per API process, dispatching PostgreSQL notifications to handlers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import psycopg

log = logging.getLogger(__name__)

Handler = Callable[[str], Awaitable[None]]


class NotificationListener:
    """Listens on named channels and calls each channel's handler with the payload.

    The connection is re-established after any failure; ``on_reconnect`` handlers run after
    each (re)connection, since notifications sent while disconnected are lost.
    """

    def __init__(self, database_url: str) -> None:
        self._url = database_url
        self._handlers: dict[str, Handler] = {}
        self._reconnect_hooks: list[Callable[[], Awaitable[None]]] = []
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()

    def on(self, channel: str, handler: Handler) -> None:
        """Call ``handler`` with each payload sent on ``channel``."""
        self._handlers[channel] = handler

    def on_reconnect(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Call ``hook`` after each reconnection (notifications may have been missed)."""
        self._reconnect_hooks.append(hook)

    async def start(self, timeout_s: float = 30.0) -> None:
        """Start listening; returns once the first connection listens on every channel."""
        self._task = asyncio.create_task(self._run(), name="laurel-listener")
        await asyncio.wait_for(self._connected.wait(), timeout_s)

    async def stop(self) -> None:
        """Stop listening and close the connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        delay = 0.1
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(self._url, autocommit=True)
                async with conn:
                    for channel in self._handlers:
                        await conn.execute(
                            psycopg.sql.SQL("LISTEN {}").format(psycopg.sql.Identifier(channel))
                        )
                    self._connected.set()
                    delay = 0.1
                    for hook in self._reconnect_hooks:
                        await hook()
                    async for note in conn.notifies():
                        handler = self._handlers.get(note.channel)
                        if handler is not None:
                            try:
                                await handler(note.payload)
                            except Exception:
                                log.exception("notification handler for %s failed", note.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("notification listener lost its connection; reconnecting")
            self._connected.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
