"""Waiting for the processor's outcome of a command, pushed by PostgreSQL NOTIFY.

A request registers its command id *before* publishing, so a commit that happens before the
request starts waiting is not missed. Each notification carries the outcomes a small batch
decided, or names those of a large one; named outcomes with a waiter are read in one query. After a
reconnection (notifications may have been lost) every pending id is looked up once.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterable

from projections.store.decided import read_payload
from projections.store.reads import ProjectionReader, StoredOutcome

Key = tuple[str, uuid.UUID]


class OutcomeWaiter:
    """Matches the processor's NOTIFY of decided commands to the requests waiting for them."""

    def __init__(
        self, reader: ProjectionReader, on_timeout: Callable[[], None] | None = None
    ) -> None:
        self._reader = reader
        self._pending: dict[Key, asyncio.Future[StoredOutcome]] = {}
        self._on_timeout = on_timeout
        """Called once for each wait that ends without its outcome (for the api's metrics)."""

    def waiting(self) -> int:
        """How many outcomes requests are waiting for now."""
        return len(self._pending)

    @contextlib.asynccontextmanager
    async def expecting(self, tenant: str, command_id: uuid.UUID) -> AsyncIterator[Awaiter]:
        """Register interest in a command's outcome for the duration of the block."""
        key = (tenant, command_id)
        future: asyncio.Future[StoredOutcome] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            yield Awaiter(self, key, future)
        finally:
            self._pending.pop(key, None)

    async def on_notification(self, payload: str) -> None:
        """Handle a NOTIFY payload (:mod:`projections.store.decided`): outcomes it carries
        resolve their waiters at once; those it names are read first."""
        decided = read_payload(payload)
        for outcome in decided.outcomes:
            self._set(outcome)
        await self._resolve([key for key in decided.ids if key in self._pending])

    async def recheck(self) -> None:
        """Look up every pending outcome (after a reconnection)."""
        await self._resolve(list(self._pending))

    async def last_look(self, key: Key) -> StoredOutcome | None:
        """The outcome of a wait that timed out, if it raced the timeout; else ``None``, and
        the timeout is reported."""
        found = await self._reader.outcomes([key])
        if found:
            return found[0]
        if self._on_timeout is not None:
            self._on_timeout()
        return None

    async def _resolve(self, keys: Iterable[Key]) -> None:
        keys = list(keys)
        if not keys:
            return
        for outcome in await self._reader.outcomes(keys):
            self._set(outcome)

    def _set(self, outcome: StoredOutcome) -> None:
        future = self._pending.get((outcome.tenant, outcome.command_id))
        if future is not None and not future.done():
            future.set_result(outcome)


class Awaiter:
    """One request's wait for one command's outcome."""

    def __init__(self, waiter: OutcomeWaiter, key: Key, future: asyncio.Future[StoredOutcome]):
        self._waiter = waiter
        self._key = key
        self._future = future

    async def result(self, timeout_s: float) -> StoredOutcome | None:
        """The outcome, or ``None`` if it did not arrive within ``timeout_s``."""
        try:
            return await asyncio.wait_for(asyncio.shield(self._future), timeout_s)
        except TimeoutError:
            # One last look: the notification may have raced the timeout.
            return await self._waiter.last_look(self._key)
