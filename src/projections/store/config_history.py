"""Loading the configuration history: every version of the metrics, attributes, streak
settings and documents (achievements, points, leaderboards) in force during a time window."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
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


async def load_config(
    conn: AsyncConnection[Any],
    tenants: Iterable[str],
    since: datetime,
    until: datetime,
    decoder: ConfigDecoder | None = None,
) -> ConfigHistory:
    """Configuration versions of ``tenants`` that hold at some instant of [since, until];
    ``decoder`` reuses what it decoded last when the rows are the same."""
    rows = await _fetch(conn, tenants, since, until)
    return decoder.decode(rows) if decoder is not None else decode_config(rows)


class ConfigDecoder:
    """:func:`decode_config` remembering its last answer. Consecutive batches mostly read the
    very same rows, and decoding the documents into rules was a tenth of a one-record batch;
    the rows are still read in every batch's transaction, so a change is seen at once."""

    def __init__(self) -> None:
        self._last: tuple[ConfigRows, ConfigHistory] | None = None

    def decode(self, rows: ConfigRows) -> ConfigHistory:
        """The configuration ``rows`` hold."""
        if self._last is not None and self._last[0] == rows:
            return self._last[1]
        config = decode_config(rows)
        self._last = (rows, config)
        return config


async def _fetch(
    conn: AsyncConnection[Any], tenants: Iterable[str], since: datetime, until: datetime
) -> ConfigRows:
    async with conn.pipeline():  # the four queries in one round trip
        cursors = await send_config_queries(conn, tenants, since, until)
    return await config_rows(cursors)


async def send_config_queries(
    conn: AsyncConnection[Any], tenants: Iterable[str], since: datetime, until: datetime
) -> list[AsyncCursor[Any]]:
    """Send the four queries of the configuration history without reading their answers (in
    pipeline mode, they go with whatever else the caller sends); :func:`config_rows` reads
    them."""
    tenant_list = sorted(set(tenants))
    window = "tenant = ANY(%s) AND valid_from <= %s AND (valid_to IS NULL OR valid_to > %s)"
    return [
        await conn.execute(query, (tenant_list, until, since))
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
