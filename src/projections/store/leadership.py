"""Leadership among processes of one kind (the ranker) through a PostgreSQL advisory lock: the
process whose session holds the lock leads; the others stand by and take over when its session
ends (it exits, is killed, or loses the database: the server releases the lock)."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import psycopg

log = logging.getLogger(__name__)


class AdvisoryLeadership:
    """Holds (or tries to hold) advisory lock ``key`` on a session of its own."""

    def __init__(self, database_url: str, key: int, name: str) -> None:
        self._url = database_url
        self._key = key
        self._name = name
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._held = False

    async def leads(self) -> bool:
        """Whether this process leads now: its session still holds the lock, or has just
        taken it. A session that broke has lost the lock (and another may have taken it)."""
        try:
            if self._conn is None:
                self._conn = await psycopg.AsyncConnection.connect(self._url, autocommit=True)
            if self._held:
                await self._conn.execute("SELECT 1")  # still the session holding the lock
                return True
            cur = await self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self._key,))
            row = await cur.fetchone()
            self._held = row is not None and bool(row[0])
            if self._held:
                log.info("%s: this process leads", self._name)
            return self._held
        except psycopg.OperationalError:
            if self._held:
                log.warning("%s: lost the database; leading no more until it is back", self._name)
            await self.close()
            return False

    async def close(self) -> None:
        """Give the lock up (ending the session releases it)."""
        conn, self._conn, self._held = self._conn, None, False
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                await conn.close()
