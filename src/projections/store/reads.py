"""Read queries over the active projection schema, for the query routes and the waiter."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from projections.core.model import UserProfile, UserState
from projections.core.periods import Frequency
from projections.core.points import PointsState
from projections.core.streaks import Pause, PeriodRecord, Streak
from projections.core.wrapped import Period
from projections.store.codecs import points_state, preferences_from_json, streak_state
from projections.store.connections import active_schema
from projections.store.users import USER_COLUMNS, profile_from_row

PROJECTION_CHANNEL = "laurel_projection"
"""NOTIFY channel announcing that reads switched to another projection schema."""


@dataclass(frozen=True)
class StoredOutcome:
    """A command's stored outcome."""

    tenant: str
    command_id: uuid.UUID
    user_id: str
    status: str
    body: Mapping[str, Any]


@dataclass(frozen=True)
class StoredPause:
    """A stored streak pause and its status."""

    user_id: str
    pause: Pause
    status: str


@dataclass(frozen=True)
class MetricTotal:
    """A user's total on one metric."""

    metric_id: uuid.UUID
    key: str
    name: str
    total: float
    active: bool
    """False for a metric deleted since the user recorded something on it (Trophy's
    ``archived``)."""

    @property
    def status(self) -> str:
        """Trophy's metric status: ``active`` or ``archived``."""
        return "active" if self.active else "archived"


Daily = dict[uuid.UUID, dict[date, float]]
"""Changes by metric (or points system) id and local day."""

_DAILY = {"metric": ("metric_daily", "metric_id"), "points": ("points_daily", "system_id")}


@dataclass(frozen=True)
class UserYear:
    """What one user did up to the end of a year."""

    metrics: Daily
    points: Daily
    achievements: list[tuple[uuid.UUID, datetime]]
    streak_periods: list[tuple[str, date, date, int]]
    """(frequency, first day, last day, length) of the closed periods within the year."""
    board_days: list[tuple[uuid.UUID, date, float, int]]
    """(board, day, value, rank) of the days within the year the ranker ranked the user."""


class ProjectionReader:
    """Queries the active projection schema, which it caches until told of a switch."""

    def __init__(self, pool: AsyncConnectionPool[Any], schema: str | None = None) -> None:
        self.pool = pool
        self._schema: str | None = schema
        self._pinned = schema is not None
        """Whether ``schema`` was given (a benchmark's scratch schema): then it is kept."""

    async def rows(self, text: str, params: Sequence[Any] | Mapping[str, Any]) -> list[Any]:
        """The rows of query ``text``, where ``{s}`` names the active projection schema (for
        read-side modules: analytics, reports)."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(await self._q(conn, text), params)
            return list(await cur.fetchall())

    async def forget_schema(self, _: str = "") -> None:
        """Re-read the active schema on the next query (after a replay's switch)."""
        if not self._pinned:
            self._schema = None

    async def _q(self, conn: AsyncConnection[Any], text: str) -> sql.Composed:
        if self._schema is None:
            self._schema = await active_schema(conn)
        return sql.SQL(text).format(s=sql.Identifier(self._schema))

    async def user(self, tenant: str, user_id: str) -> UserProfile | None:
        """The user's profile, or ``None``."""
        async with self.pool.connection() as conn:
            query = await self._q(
                conn, f"SELECT {USER_COLUMNS} FROM {{s}}.users WHERE tenant = %s AND user_id = %s"
            )
            row = await (await conn.execute(query, (tenant, user_id))).fetchone()
            return profile_from_row(row) if row else None

    async def totals(self, tenant: str, user_id: str, at: datetime) -> list[MetricTotal]:
        """The user's total on every metric in force at ``at`` (0 where nothing was recorded),
        and on every metric deleted before ``at`` that the user recorded something on, in the
        metrics' creation order."""
        async with self.pool.connection() as conn:
            query = await self._q(
                conn,
                "SELECT id, key, name, coalesce(total, 0), active FROM ("
                " SELECT DISTINCT ON (m.id) m.id, m.key, m.name, m.created, t.total,"
                " (m.valid_to IS NULL OR m.valid_to > %(at)s) AS active"
                " FROM laurel.metrics m LEFT JOIN {s}.metric_totals t"
                " ON t.tenant = m.tenant AND t.metric_id = m.id AND t.user_id = %(user)s"
                " WHERE m.tenant = %(tenant)s AND m.valid_from <= %(at)s"
                " ORDER BY m.id, m.valid_from DESC"  # each metric's latest version
                ") latest WHERE active OR total IS NOT NULL ORDER BY created, id",
            )
            cur = await conn.execute(query, {"at": at, "user": user_id, "tenant": tenant})
            return [MetricTotal(*row) for row in await cur.fetchall()]

    async def daily_changes(
        self,
        tenant: str,
        user_id: str,
        metric_id: uuid.UUID,
        start: date,
        end: date,
        *,
        points: bool = False,
    ) -> tuple[float, dict[date, float]]:
        """The total before ``start`` and the change on each day of [start, end], of a metric
        (or, with ``points``, of a points system)."""
        table, column = ("points_daily", "system_id") if points else ("metric_daily", "metric_id")
        async with self.pool.connection() as conn:
            query = await self._q(
                conn,
                "SELECT coalesce(sum(change) FILTER (WHERE day < %s), 0), "
                "coalesce(jsonb_object_agg(day, change) FILTER (WHERE day >= %s), '{{}}') "
                f"FROM {{s}}.{table} WHERE tenant = %s AND user_id = %s AND {column} = %s "
                "AND day <= %s",
            )
            cur = await conn.execute(query, (start, start, tenant, user_id, metric_id, end))
            row = await cur.fetchone()
            assert row is not None
            before, changes = row
            return float(before), {date.fromisoformat(d): float(c) for d, c in changes.items()}

    async def user_states(self, tenant: str, user_ids: Iterable[str]) -> dict[str, UserState]:
        """Profile, preferences and streak of the users that exist among ``user_ids``."""
        async with self.pool.connection() as conn:
            query = await self._q(
                conn,
                f"SELECT u.user_id, u.preferences, s.state, {USER_COLUMNS} FROM {{s}}.users u "
                "LEFT JOIN {s}.streaks s USING (tenant, user_id) "
                "WHERE u.tenant = %s AND u.user_id = ANY(%s)",
            )
            ids = list(user_ids)
            cur = await conn.execute(query, (tenant, ids))
            rows = await cur.fetchall()
            query = await self._q(
                conn,
                "SELECT user_id, achievement_id, achieved_at FROM {s}.user_achievements "
                "WHERE tenant = %s AND user_id = ANY(%s)",
            )
            achieved: dict[str, dict[uuid.UUID, datetime]] = {}
            for user_id, achievement_id, at in await (
                await conn.execute(query, (tenant, ids))
            ).fetchall():
                achieved.setdefault(user_id, {})[achievement_id] = at
            query = await self._q(
                conn,
                "SELECT user_id, state FROM {s}.user_points "
                "WHERE tenant = %s AND user_id = ANY(%s)",
            )
            points = {
                u: points_state(p)
                for u, p in await (await conn.execute(query, (tenant, ids))).fetchall()
            }
            return {
                user_id: UserState(
                    tenant,
                    user_id,
                    profile=profile_from_row(rest),
                    preferences=preferences_from_json(preferences),
                    streak=streak_state(state) if state is not None else Streak(),
                    achievements=achieved.get(user_id, {}),
                    points=points.get(user_id, PointsState()),
                )
                for user_id, preferences, state, *rest in rows
            }

    async def streak_periods(
        self, tenant: str, user_id: str, frequency: Frequency, since: date
    ) -> dict[date, PeriodRecord]:
        """The user's closed streak periods of ``frequency`` starting on or after ``since``."""
        async with self.pool.connection() as conn:
            query = await self._q(
                conn,
                "SELECT period_start, period_end, length, used_freeze, used_pause, reset_at "
                "FROM {s}.streak_periods WHERE tenant = %s AND user_id = %s AND frequency = %s "
                "AND period_start >= %s",
            )
            cur = await conn.execute(query, (tenant, user_id, frequency, since))
            return {
                start: PeriodRecord(frequency, start, end, length, freeze, pause, reset_at)
                for start, end, length, freeze, pause, reset_at in await cur.fetchall()
            }

    async def pauses(self, tenant: str, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, StoredPause]:
        """Pauses by id, with their user and status."""
        async with self.pool.connection() as conn:
            query = await self._q(
                conn,
                "SELECT id, user_id, start_date, end_date, status FROM {s}.streak_pauses "
                "WHERE tenant = %s AND id = ANY(%s)",
            )
            cur = await conn.execute(query, (tenant, list(ids)))
            return {
                pause_id: StoredPause(user_id, Pause(pause_id, start, end), status)
                for pause_id, user_id, start, end, status in await cur.fetchall()
            }

    async def due_streaks(self, now: datetime, limit: int) -> list[tuple[str, str, datetime]]:
        """Users with something due at or before ``now`` (a streak period's end, a freeze, a
        reward, a notice), earliest first: the scheduler's queue."""
        async with self.pool.connection() as conn:
            query = await self._q(
                conn,
                "SELECT tenant, user_id, next_due FROM {s}.streaks WHERE next_due <= %s "
                "ORDER BY next_due LIMIT %s",
            )
            cur = await conn.execute(query, (now, limit))
            return [(t, u, d) for t, u, d in await cur.fetchall()]

    async def completions(self, tenant: str) -> tuple[int, dict[uuid.UUID, int]]:
        """How many users the tenant has, and how many completed each achievement."""
        async with self.pool.connection() as conn:
            query = await self._q(conn, "SELECT count(*) FROM {s}.users WHERE tenant = %s")
            row = await (await conn.execute(query, (tenant,))).fetchone()
            query = await self._q(
                conn,
                "SELECT achievement_id, count(*) FROM {s}.user_achievements WHERE tenant = %s "
                "GROUP BY achievement_id",
            )
            cur = await conn.execute(query, (tenant,))
            return (row[0] if row else 0), {a: n for a, n in await cur.fetchall()}

    async def completion_command(
        self, tenant: str, user_id: str, achievement_id: uuid.UUID
    ) -> uuid.UUID | None:
        """The command that completed the achievement for the user, if one did."""
        async with self.pool.connection() as conn:
            query = await self._q(
                conn,
                "SELECT command_id FROM {s}.user_achievements WHERE tenant = %s AND user_id = %s "
                "AND achievement_id = %s",
            )
            row = await (await conn.execute(query, (tenant, user_id, achievement_id))).fetchone()
            return row[0] if row else None

    async def points_totals(
        self, tenant: str, system_id: uuid.UUID, attributes: Mapping[str, str]
    ) -> list[tuple[int, uuid.UUID | None]]:
        """Every user's (total, level) in a system (users without points count 0), among users
        whose attributes include ``attributes``."""
        async with self.pool.connection() as conn:
            query = await self._q(
                conn,
                "SELECT coalesce(p.total, 0), p.level_id FROM {s}.users u LEFT JOIN "
                "{s}.points_totals p ON p.tenant = u.tenant AND p.user_id = u.user_id "
                "AND p.system_id = %s WHERE u.tenant = %s AND u.attributes @> %s",
            )
            cur = await conn.execute(query, (system_id, tenant, Jsonb(dict(attributes))))
            return [(int(t), lv) for t, lv in await cur.fetchall()]

    async def recent_awards(
        self, tenant: str, user_id: str, system_id: uuid.UUID, limit: int
    ) -> list[Mapping[str, Any]]:
        """The user's latest awards in a system, newest first (Trophy's ``PointsAward``)."""
        async with self.pool.connection() as conn:
            query = await self._q(
                conn,
                "SELECT body FROM {s}.points_awards WHERE tenant = %s AND user_id = %s "
                "AND system_id = %s ORDER BY awarded_at DESC, id DESC LIMIT %s",
            )
            cur = await conn.execute(query, (tenant, user_id, system_id, limit))
            return [row[0] for row in await cur.fetchall()]

    async def user_ids(self, tenant: str, after: str, limit: int) -> list[str]:
        """The tenant's user ids after ``after`` in order (for paging through every user)."""
        async with self.pool.connection() as conn:
            query = await self._q(
                conn,
                "SELECT user_id FROM {s}.users WHERE tenant = %s AND user_id > %s "
                "ORDER BY user_id LIMIT %s",
            )
            cur = await conn.execute(query, (tenant, after, limit))
            return [row[0] for row in await cur.fetchall()]

    async def outcomes(self, keys: Iterable[tuple[str, uuid.UUID]]) -> list[StoredOutcome]:
        """The stored outcomes of the commands named (those decided)."""
        pairs = list(keys)
        if not pairs:
            return []
        async with self.pool.connection() as conn:
            query = await self._q(
                conn,
                "SELECT tenant, command_id, user_id, status, body FROM {s}.command_outcomes "
                "WHERE (tenant, command_id) IN (SELECT * FROM unnest(%s::text[], %s::uuid[]))",
            )
            cur = await conn.execute(query, ([p[0] for p in pairs], [p[1] for p in pairs]))
            return [StoredOutcome(*row) for row in await cur.fetchall()]

    async def user_names(self, tenant: str, user_ids: Iterable[str]) -> dict[str, str | None]:
        """The names of the users named (those that exist)."""
        async with self.pool.connection() as conn:
            query = await self._q(
                conn, "SELECT user_id, name FROM {s}.users WHERE tenant = %s AND user_id = ANY(%s)"
            )
            cur = await conn.execute(query, (tenant, list(user_ids)))
            return {u: n for u, n in await cur.fetchall()}

    async def leaderboard_entry(
        self, tenant: str, board_id: uuid.UUID, run: date, user_id: str
    ) -> tuple[str | None, float] | None:
        """The user's (stored breakdown group, value) in one run of a board."""
        async with self.pool.connection() as conn:
            query = await self._q(
                conn,
                "SELECT grp, value FROM {s}.leaderboard_entries WHERE tenant = %s "
                "AND leaderboard_id = %s AND run = %s AND user_id = %s",
            )
            row = await (await conn.execute(query, (tenant, board_id, run, user_id))).fetchone()
            return (row[0], float(row[1])) if row else None

    async def leaderboard_days(
        self, tenant: str, board_id: uuid.UUID, run: date, user_id: str, limit: int
    ) -> list[tuple[date, float, int | None]]:
        """The user's value at the end of each local day they changed it in a run, and the rank
        the ranker last observed that day, with the day before the oldest returned (so each has
        a previous value), oldest first."""
        async with self.pool.connection() as conn:
            query = await self._q(
                conn,
                "SELECT day, value, rank FROM {s}.leaderboard_days WHERE tenant = %s "
                "AND leaderboard_id = %s AND run = %s AND user_id = %s ORDER BY day DESC LIMIT %s",
            )
            cur = await conn.execute(query, (tenant, board_id, run, user_id, limit + 1))
            return [(d, float(v), r) for d, v, r in reversed(await cur.fetchall())]

    async def user_year(self, tenant: str, user_id: str, year: Period) -> UserYear:
        """The user's daily changes up to the year's end, and the year's completions, streak
        periods and ranked days."""
        async with self.pool.connection() as conn:
            found: list[list[tuple[Any, ...]]] = []
            for text, params in (
                *(
                    (
                        f"SELECT {column}, day, change FROM {{s}}.{table} WHERE tenant = %s "
                        "AND user_id = %s AND day <= %s",
                        (tenant, user_id, year.end),
                    )
                    for table, column in _DAILY.values()
                ),
                (
                    "SELECT achievement_id, achieved_at FROM {s}.user_achievements "
                    "WHERE tenant = %s AND user_id = %s ORDER BY achieved_at",
                    (tenant, user_id),
                ),
                (
                    "SELECT frequency, period_start, period_end, length FROM {s}.streak_periods "
                    "WHERE tenant = %s AND user_id = %s AND period_end >= %s "
                    "AND period_start <= %s",
                    (tenant, user_id, year.start, year.end),
                ),
                (
                    "SELECT leaderboard_id, day, value, rank FROM {s}.leaderboard_days "
                    "WHERE tenant = %s AND user_id = %s AND day BETWEEN %s AND %s "
                    "AND rank IS NOT NULL",
                    (tenant, user_id, year.start, year.end),
                ),
            ):
                cur = await conn.execute(await self._q(conn, text), params)
                found.append(await cur.fetchall())
        metrics, points, achievements, periods, boards = found
        return UserYear(
            _daily(metrics),
            _daily(points),
            [(a, at) for a, at in achievements],
            [(f, s, e, n) for f, s, e, n in periods],
            [(b, d, float(v), r) for b, d, v, r in boards],
        )

    async def changes_in(
        self, tenant: str, kind: str, ids: Sequence[uuid.UUID], period: Period
    ) -> dict[uuid.UUID, list[float]]:
        """Every user's non-zero change in ``period`` of each metric (``kind`` ``metric``) or
        points system (``points``) of ``ids``."""
        table, column = _DAILY[kind]
        async with self.pool.connection() as conn:
            query = await self._q(
                conn,
                f"SELECT {column}, sum(change) FROM {{s}}.{table} WHERE tenant = %s "
                f"AND {column} = ANY(%s) AND day BETWEEN %s AND %s GROUP BY {column}, user_id "
                "HAVING sum(change) <> 0",
            )
            cur = await conn.execute(query, (tenant, list(ids), period.start, period.end))
            out: dict[uuid.UUID, list[float]] = {i: [] for i in ids}
            for key, change in await cur.fetchall():
                out[key].append(float(change))
            return out

    async def attribute_year(
        self, tenant: str, user_id: str, until: date
    ) -> dict[tuple[uuid.UUID, str, str], dict[date, float]]:
        """The user's daily changes per (metric, event attribute, value) up to ``until``."""
        rows = await self.rows(
            "SELECT metric_id, attribute, value, day, change FROM {s}.metric_attribute_daily "
            "WHERE tenant = %s AND user_id = %s AND day <= %s",
            (tenant, user_id, until),
        )
        out: dict[tuple[uuid.UUID, str, str], dict[date, float]] = {}
        for metric_id, attribute, value, day, change in rows:
            out.setdefault((metric_id, attribute, value), {})[day] = float(change)
        return out

    async def attribute_changes_in(
        self, tenant: str, cells: Sequence[tuple[uuid.UUID, str, str]], period: Period
    ) -> dict[tuple[uuid.UUID, str, str], list[float]]:
        """Every user's non-zero change in ``period`` of each (metric, attribute, value)."""
        out: dict[tuple[uuid.UUID, str, str], list[float]] = {c: [] for c in cells}
        if not cells:
            return out
        rows = await self.rows(
            "SELECT metric_id, attribute, value, sum(change) FROM {s}.metric_attribute_daily "
            "WHERE tenant = %s AND (metric_id, attribute, value) IN (SELECT * FROM "
            "unnest(%s::uuid[], %s::text[], %s::text[])) AND day BETWEEN %s AND %s "
            "GROUP BY metric_id, attribute, value, user_id HAVING sum(change) <> 0",
            (
                tenant,
                [c[0] for c in cells],
                [c[1] for c in cells],
                [c[2] for c in cells],
                period.start,
                period.end,
            ),
        )
        for metric_id, attribute, value, change in rows:
            out[(metric_id, attribute, value)].append(float(change))
        return out

    async def user_count(self, tenant: str) -> int:
        """How many users the tenant has."""
        async with self.pool.connection() as conn:
            query = await self._q(conn, "SELECT count(*) FROM {s}.users WHERE tenant = %s")
            row = await (await conn.execute(query, (tenant,))).fetchone()
            return int(row[0]) if row else 0


def _daily(rows: list[tuple[Any, ...]]) -> Daily:
    out: Daily = {}
    for key, day, change in rows:
        out.setdefault(key, {})[day] = float(change)
    return out
