"""Loading the configuration history: every version of the metrics, attributes, streak
settings and documents (achievements, points, leaderboards) in force during a time window."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields
from datetime import datetime, timedelta
from typing import Any, TypeAlias

from psycopg import AsyncConnection, AsyncCursor

from projections.core.model import (
    AttributeVersion,
    ConfigHistory,
    MetricVersion,
    StreakSettingsVersion,
)
from projections.store.codecs import (
    Document,
    achievement_from,
    leaderboard_from,
    points_boost_from,
    points_level_from,
    points_system_from,
    points_trigger_from,
    settings_from_json,
)

ConfigRows: TypeAlias = tuple[tuple[Any, ...], ...]
"""The rows of the four configuration queries, one tuple of rows per query."""


EPOCHS = b"SELECT tenant, epoch FROM laurel.config_epochs WHERE tenant = ANY(%s)"
"""The configuration epochs of some tenants (migration ``config_0007``): each changes with
every write to the tenant's configuration tables, in the same transaction."""


async def load_config(
    conn: AsyncConnection[Any],
    tenants: Iterable[str],
    since: datetime,
    until: datetime | None,
) -> ConfigHistory:
    """Configuration versions of ``tenants`` that hold at some instant of [since, until]
    (from ``since`` on when ``until`` is ``None``)."""
    async with conn.pipeline():  # the four queries in one round trip
        cursors = await send_config_queries(conn, tenants, since, until)
    return decode_config(await config_rows(cursors))


class ConfigCache:
    """Each tenant's configuration history, kept while the tenant's epoch stays the same.

    Consecutive batches mostly need the very same configuration: reading every version of it
    in each batch, and decoding the documents into rules, was a tenth of a one-record batch
    and grows with every edit. The batch reads its tenants' epochs instead (one small query
    in its read trip); a tenant whose epoch moved, that is not held, or that is held only from
    a later ``since`` than the batch's, is loaded again, in the batch's transaction (the
    store loads from a little before the batch's ``since``). A change is still seen by the
    first batch that reads the new epoch.
    Pure bookkeeping: the caller does the reading (:meth:`wanted`, :meth:`keep`).
    """

    def __init__(self, max_tenants: int = 4_096) -> None:
        """``max_tenants``: how many tenants' configurations to hold at most (the least
        recently used go first); more than a batch can name."""
        self._held: OrderedDict[str, tuple[int, datetime, ConfigHistory]] = OrderedDict()
        self._max_tenants = max_tenants

    def wanted(
        self, epochs: Mapping[str, int], tenants: Iterable[str], since: datetime
    ) -> list[str]:
        """Which of ``tenants`` to load for a batch reaching back to ``since``; ``epochs``
        are their current epochs (a tenant without one has epoch 0)."""
        stale = []
        for tenant in sorted(set(tenants)):
            held = self._held.get(tenant)
            if held is None or held[0] != epochs.get(tenant, 0) or held[1] > since:
                stale.append(tenant)
            else:
                self._held.move_to_end(tenant)  # recently used: evicted last
        return stale

    def keep(
        self, epochs: Mapping[str, int], since: datetime, tenants: Iterable[str], rows: ConfigRows
    ) -> None:
        """Hold what was loaded for ``tenants`` from ``since`` on, at their ``epochs``."""
        for tenant in tenants:
            mine = tuple(tuple(row for row in query if row[0] == tenant) for query in rows)
            self._held[tenant] = (epochs.get(tenant, 0), since, decode_config(mine))
            self._held.move_to_end(tenant)
        while len(self._held) > self._max_tenants:
            self._held.popitem(last=False)

    def history(self, tenants: Iterable[str]) -> ConfigHistory:
        """The held configuration of ``tenants`` (all of them loaded or kept for this batch)."""
        histories = [self._held[tenant][2] for tenant in sorted(set(tenants))]
        return histories[0] if len(histories) == 1 else combined(histories)


async def cached_config(
    conn: AsyncConnection[Any],
    cache: ConfigCache,
    epochs: Mapping[str, int],
    tenants: Iterable[str],
    since: datetime,
    reach: timedelta = timedelta(0),
) -> ConfigHistory:
    """The configuration of ``tenants`` from ``since`` on: what ``cache`` holds at these
    ``epochs`` (:data:`EPOCHS`, read in the caller's snapshot), the rest read now on ``conn``
    (one round trip, only after a change) from ``reach`` before ``since``."""
    stale = cache.wanted(epochs, tenants, since)
    if stale:
        start = since - reach
        cursors = await send_config_queries(conn, stale, start, None)
        cache.keep(epochs, start, stale, await config_rows(cursors))
    return cache.history(tenants)


async def read_epochs(conn: AsyncConnection[Any], tenants: Iterable[str]) -> dict[str, int]:
    """The configuration epochs of ``tenants`` (a tenant never configured has none)."""
    cur = await conn.execute(EPOCHS, (sorted(set(tenants)),))
    return {tenant: epoch for tenant, epoch in await cur.fetchall()}


def combined(histories: Sequence[ConfigHistory]) -> ConfigHistory:
    """The configuration histories of several tenants as one."""
    return ConfigHistory(
        **{
            f.name: tuple(v for h in histories for v in getattr(h, f.name))
            for f in fields(ConfigHistory)
            if f.init  # not the lookups' memo
        }
    )


async def send_config_queries(
    conn: AsyncConnection[Any], tenants: Iterable[str], since: datetime, until: datetime | None
) -> list[AsyncCursor[Any]]:
    """Send the four queries of the configuration history without reading their answers (in
    pipeline mode, they go with whatever else the caller sends); :func:`config_rows` reads
    them. Every row's first column is its tenant."""
    tenant_list = sorted(set(tenants))
    bounded = until is not None
    window = "tenant = ANY(%s) AND (valid_to IS NULL OR valid_to > %s)" + (
        " AND valid_from <= %s" if bounded else ""
    )
    params = (tenant_list, since, until) if bounded else (tenant_list, since)
    return [
        await conn.execute(query, params)
        for query in (
            "SELECT tenant, id, key, name, unit_type, units, valid_from, valid_to "
            f"FROM laurel.metrics WHERE {window}",
            "SELECT tenant, id, key, name, type, valid_from, valid_to "
            f"FROM laurel.attributes WHERE {window}",
            "SELECT tenant, settings, valid_from, valid_to FROM laurel.streak_settings "
            f"WHERE {window}",
            "SELECT tenant, kind, id, body, created, valid_from, valid_to "
            f"FROM laurel.documents WHERE {window}",
        )
    ]


async def config_rows(cursors: Sequence[AsyncCursor[Any]]) -> ConfigRows:
    """The answers of :func:`send_config_queries`."""
    return tuple([tuple(await cursor.fetchall()) for cursor in cursors])


def decode_config(rows: ConfigRows) -> ConfigHistory:
    """The configuration history the rows of the four queries hold."""
    metrics, attributes, streak_rows, documents = rows
    metric_versions = tuple(
        MetricVersion(
            tenant=t, id=i, key=k, name=n, unit_type=ut, units=u, valid_from=vf, valid_to=vt
        )
        for (t, i, k, n, ut, u, vf, vt) in metrics
    )
    attribute_versions = tuple(
        AttributeVersion(tenant=t, id=i, key=k, name=n, type=ty, valid_from=vf, valid_to=vt)
        for (t, i, k, n, ty, vf, vt) in attributes
    )
    streak_versions = tuple(
        StreakSettingsVersion(tenant=t, settings=settings_from_json(s), valid_from=vf, valid_to=vt)
        for (t, s, vf, vt) in streak_rows
    )
    keys = {a.id: a.key for a in attribute_versions}
    by_kind: dict[str, list[Document]] = {}
    for tenant, kind, doc_id, body, created, vf, vt in documents:
        by_kind.setdefault(kind, []).append(Document(tenant, doc_id, body, created, vf, vt))
    return ConfigHistory(
        metrics=metric_versions,
        attributes=attribute_versions,
        streak_settings=streak_versions,
        achievements=tuple(achievement_from(d, keys) for d in by_kind.get("achievement", [])),
        points_systems=tuple(points_system_from(d) for d in by_kind.get("points_system", [])),
        points_triggers=tuple(
            points_trigger_from(d, keys) for d in by_kind.get("points_trigger", [])
        ),
        points_levels=tuple(points_level_from(d) for d in by_kind.get("points_level", [])),
        points_boosts=tuple(points_boost_from(d, keys) for d in by_kind.get("points_boost", [])),
        leaderboards=tuple(leaderboard_from(d, keys) for d in by_kind.get("leaderboard", [])),
    )
