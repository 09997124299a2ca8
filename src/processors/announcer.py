"""The announcer: the webhooks the clock causes (a boost going live or ending, a leaderboard run
about to start), written to the webhook queue when due. A leader-only round beside the ranker's.

Nothing is folded: these messages depend on the configuration and the time only, and their ids
name the boost or the run, so every round may propose the same ones and only the first counts.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from ingest.clock import Clock
from projections.core.model import UserKey
from projections.store.config_history import ConfigCache, cached_config, read_epochs
from projections.store.connections import active_schema
from projections.store.webhook_messages import TIMED_TYPES, timed_messages
from projections.store.webhooks import announce, current_subscriptions


class Announcer:
    """Proposes the time-driven messages due now, for the tenants whose endpoints want them."""

    def __init__(self, pool: AsyncConnectionPool[Any], clock: Clock) -> None:
        self.pool = pool
        self.clock = clock
        self._configs = ConfigCache()
        """The configuration, read again only when a tenant's epoch moves (every round)."""

    async def run_once(self) -> int:
        """One round; returns how many messages were proposed (most already stored)."""
        now = self.clock()
        async with self.pool.connection() as conn, conn.transaction():
            subscribed = await current_subscriptions(conn)
            tenants = subscribed.tenants_wanting(TIMED_TYPES)
            if not tenants:
                return 0
            epochs = await read_epochs(conn, tenants)
            config = await cached_config(conn, self._configs, epochs, tenants, now)
            users = sorted(
                {
                    (b.tenant, b.user_id)
                    for t in tenants
                    for b in config.points_at(t, now).boosts
                    if b.user_id is not None
                }
            )
            zones: dict[UserKey, str | None] = {}
            if users:
                schema = sql.Identifier(await active_schema(conn))
                cur = await conn.execute(
                    sql.SQL(
                        "SELECT tenant, user_id, tz FROM {}.users WHERE (tenant, user_id) IN "
                        "(SELECT * FROM unnest(%s::text[], %s::text[]))"
                    ).format(schema),
                    ([u[0] for u in users], [u[1] for u in users]),
                )
                zones = {(t, u): tz for t, u, tz in await cur.fetchall()}
            messages = timed_messages(config, tenants, now, zones, subscribed.wanted)
            await announce(conn, messages)
        return len(messages)
