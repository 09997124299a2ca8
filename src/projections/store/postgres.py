"""The PostgreSQL projection store: one transaction per batch, in the active projection schema."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection, AsyncCursor
from psycopg_pool import AsyncConnectionPool

from projections.core.commands import RecordMetricEvent
from projections.core.fold import BatchResult, DailyKey, IdempotencyKey, Projection
from projections.core.leaderboards import Entry
from projections.core.model import (
    ConfigHistory,
    Preferences,
    UserKey,
    UserProfile,
    UserState,
)
from projections.core.notices import Notices
from projections.core.outcomes import MetricEventRecorded
from projections.core.points import PointsState
from projections.core.streaks import PeriodRecord, Streak
from projections.store.codecs import (
    notices_state,
    points_state,
    points_state_json,
    preferences_from_json,
    streak_state,
    streak_state_json,
)
from projections.store.config_history import EPOCHS, ConfigCache, cached_config
from projections.store.connections import (
    Writes,
    active_schema,
    pipelined_transaction,
    read_active_schema,
    send_active_schema,
    statement,
)
from projections.store.decided import OUTCOMES_CHANNEL, notification_payloads
from projections.store.outbox import outbox_rows
from projections.store.ports import BatchQuery, BatchRead, DeadLetter, OutcomeRow
from projections.store.ranking import group_key, group_values
from projections.store.trophy_json import award_bodies
from projections.store.users import USER_COLUMNS, profile_from_row, user_params
from projections.store.webhook_messages import Shown, batch_messages, stored_needs
from projections.store.webhooks import SUBSCRIPTIONS, Subscriptions, announce

COMBINED_MAX = 50
"""The most commands a batch may name (its :class:`BatchQuery`) for its writes to go as one
statement (see :class:`Writes`)."""

CONFIG_REACH = timedelta(hours=1)
"""How much further back than its batch the configuration is loaded (:class:`ConfigCache`)."""

COMMITS_CHANNEL = "laurel_commits"
"""NOTIFY channel told of every batch the processor commits (for whoever follows the
projection: the tests wait on it instead of polling)."""


_USERS_IN = "WHERE (tenant, user_id) IN (SELECT * FROM unnest(%b::text[], %b::text[]))"
_METRIC_DAYS = (
    "metric_days AS (SELECT * FROM {rows} AS b), "
    "metric_days_up AS (INSERT INTO {s}.metric_daily AS d (tenant, user_id, metric_id, day, "
    "change) SELECT c0, c1, c2, c3, c4 FROM metric_days ON CONFLICT (tenant, user_id, "
    "metric_id, day) DO UPDATE SET change = d.change + EXCLUDED.change "
    "RETURNING d.tenant, d.user_id, d.metric_id, d.day, d.xmax = 0 AS fresh)",
    "INSERT INTO {s}.metric_activity AS a (tenant, metric_id, day, users, events, total) "
    "SELECT b.c0, b.c2, b.c3, count(*) FILTER (WHERE up.fresh), sum(b.c5), sum(b.c4) "
    "FROM metric_days b JOIN metric_days_up up ON up.tenant = b.c0 AND up.user_id = b.c1 "
    "AND up.metric_id = b.c2 AND up.day = b.c3 GROUP BY b.c0, b.c2, b.c3 "
    "ORDER BY b.c0, b.c2, b.c3 ON CONFLICT (tenant, metric_id, day) DO UPDATE SET "
    "users = a.users + EXCLUDED.users, events = a.events + EXCLUDED.events, "
    "total = a.total + EXCLUDED.total",
)
"""A batch's daily changes (with how many events made each), and the per-metric day rollup
they move: a (user, metric, day) row inserted (``xmax = 0``), not updated, is a new active user
of that metric that day. The CTEs it reads, and the statement (see :meth:`Writes.add`)."""

_USER_DAYS = (
    "active_days AS (SELECT c0 AS tenant, c1 AS user_id, c2 AS day FROM {rows} AS b), "
    "fresh_days AS (INSERT INTO {s}.user_days (tenant, user_id, day) "
    "SELECT * FROM active_days ON CONFLICT DO NOTHING RETURNING tenant, user_id, day), "
    "born AS (INSERT INTO {s}.user_activity (tenant, user_id, first_day) "
    "SELECT tenant, user_id, min(day) FROM fresh_days GROUP BY tenant, user_id "
    "ORDER BY tenant, user_id ON CONFLICT DO NOTHING RETURNING tenant, user_id, first_day), "
    "seen AS (SELECT f.tenant, f.user_id, f.day, coalesce(b.first_day, a.first_day) AS first_day "
    "FROM fresh_days f LEFT JOIN born b ON b.tenant = f.tenant AND b.user_id = f.user_id "
    "LEFT JOIN {s}.user_activity a ON a.tenant = f.tenant AND a.user_id = f.user_id), "
    "seen_daily AS (INSERT INTO {s}.tenant_daily AS t (tenant, day, users, new_users) "
    "SELECT tenant, day, count(*), count(*) FILTER (WHERE day = first_day) FROM seen "
    "GROUP BY tenant, day ORDER BY tenant, day ON CONFLICT (tenant, day) DO UPDATE SET "
    "users = t.users + EXCLUDED.users, new_users = t.new_users + EXCLUDED.new_users), "
    "retained AS (INSERT INTO {s}.retention_daily AS r (tenant, cohort, after, users) "
    "SELECT tenant, first_day, day - first_day, count(*) FROM seen "
    "WHERE day - first_day IN (1, 7, 30) GROUP BY 1, 2, 3 ORDER BY 1, 2, 3 "
    "ON CONFLICT (tenant, cohort, after) DO UPDATE SET users = r.users + EXCLUDED.users), "
    "periods AS (INSERT INTO {s}.user_periods (tenant, user_id, unit, start) "
    "SELECT DISTINCT tenant, user_id, u.unit, date_trunc(u.unit, day)::date FROM seen "
    "CROSS JOIN (VALUES ('week'), ('month')) AS u(unit) ORDER BY 1, 2, 3, 4 "
    "ON CONFLICT DO NOTHING RETURNING tenant, user_id, unit, start), "
    "period_users AS (INSERT INTO {s}.tenant_periods AS t (tenant, unit, start, users) "
    "SELECT tenant, unit, start, count(*) FROM periods GROUP BY 1, 2, 3 ORDER BY 1, 2, 3 "
    "ON CONFLICT (tenant, unit, start) DO UPDATE SET users = t.users + EXCLUDED.users)",
    "INSERT INTO {s}.retention_weekly AS w (tenant, cohort, week, users) "
    "SELECT p.tenant, date_trunc('week', s.first_day)::date, p.start, count(*) FROM periods p "
    "JOIN (SELECT DISTINCT tenant, user_id, first_day FROM seen) s "
    "ON s.tenant = p.tenant AND s.user_id = p.user_id WHERE p.unit = 'week' "
    "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3 "
    "ON CONFLICT (tenant, cohort, week) DO UPDATE SET users = w.users + EXCLUDED.users",
)
"""Which users were active on the batch's days, and the rollups a first activity moves: the
tenant's active and new users per day, per week and month, and the retention cohorts. Each is
counted once: only rows this statement inserted (``RETURNING`` of ``ON CONFLICT DO NOTHING``)
count. Aggregates are written in key order, so concurrent workers lock rows in one order. The
CTEs it reads, and the statement (see :meth:`Writes.add`)."""

_USER_QUERIES = (
    f"SELECT tenant, user_id, preferences, notices, {USER_COLUMNS} FROM {{s}}.users {_USERS_IN}",
    f"SELECT tenant, user_id, state FROM {{s}}.streaks {_USERS_IN}",
    "SELECT tenant, user_id, achievement_id, achieved_at FROM {s}.user_achievements " + _USERS_IN,
    f"SELECT tenant, user_id, state FROM {{s}}.user_points {_USERS_IN}",
    "SELECT DISTINCT ON (tenant, user_id, leaderboard_id) tenant, user_id, leaderboard_id, run, "
    f"grp, value, reached_at FROM {{s}}.leaderboard_entries {_USERS_IN} "
    "ORDER BY tenant, user_id, leaderboard_id, run DESC",
    f"SELECT tenant, user_id, metric_id, total FROM {{s}}.metric_totals {_USERS_IN}",
)
"""A user's state is spread over these tables; each query selects the rows of some users."""


class _UserRows:
    """The answers to :data:`_USER_QUERIES` (sent in one pipeline), read into user states."""

    def __init__(self, keys: Sequence[UserKey], cursors: Sequence[AsyncCursor[Any]]) -> None:
        self.keys = keys
        self.cursors = cursors

    async def states(self) -> dict[UserKey, UserState]:
        if not self.cursors:
            return {}
        users, streak_rows, achievement_rows, points_rows, entry_rows, total_rows = [
            await cursor.fetchall() for cursor in self.cursors
        ]
        profiles: dict[UserKey, UserProfile] = {}
        preferences: dict[UserKey, Preferences] = {}
        notices: dict[UserKey, Notices] = {}
        for row in users:
            profiles[(row[0], row[1])] = profile_from_row(row[4:])
            preferences[(row[0], row[1])] = preferences_from_json(row[2])
            notices[(row[0], row[1])] = notices_state(row[3])
        streaks = {(t, u): streak_state(state) for t, u, state in streak_rows}
        achieved: dict[UserKey, dict[uuid.UUID, datetime]] = {}
        for tenant, user_id, achievement_id, at in achievement_rows:
            achieved.setdefault((tenant, user_id), {})[achievement_id] = at
        points = {(t, u): points_state(state) for t, u, state in points_rows}
        held: dict[UserKey, dict[uuid.UUID, Entry]] = {}
        for tenant, user_id, board_id, run, grp, value, reached in entry_rows:
            entry = Entry(run, value, group_values(grp), reached)
            held.setdefault((tenant, user_id), {})[board_id] = entry
        totals: dict[UserKey, dict[uuid.UUID, float]] = {}
        for tenant, user_id, metric_id, total in total_rows:
            totals.setdefault((tenant, user_id), {})[metric_id] = total
        return {
            key: UserState(
                key[0],
                key[1],
                profiles.get(key),
                totals.get(key, {}),
                preferences.get(key, Preferences()),
                streaks.get(key, Streak()),
                achieved.get(key, {}),
                points.get(key, PointsState()),
                held.get(key, {}),
                notices.get(key, Notices()),
            )
            for key in self.keys
            if key in profiles or key in totals
        }


class _Loading:
    """The answers to :meth:`_PostgresUnitOfWork._send_load`, read into a projection."""

    def __init__(
        self, users: _UserRows, decided: AsyncCursor[Any] | None, used: AsyncCursor[Any] | None
    ) -> None:
        self._users = users
        self._decided = decided
        self._used = used

    async def projection(self) -> Projection:
        states = await self._users.states()
        decided = frozenset(
            (t, c) for t, c in (await self._decided.fetchall() if self._decided is not None else ())
        )
        found: dict[IdempotencyKey, uuid.UUID] = {
            (tenant, user_id, metric_key, key): event_id
            for tenant, user_id, metric_key, key, event_id in (
                await self._used.fetchall() if self._used is not None else ()
            )
        }
        return Projection(users=states, decided=decided, idempotency=found)


class _PostgresUnitOfWork:
    def __init__(
        self,
        conn: AsyncConnection[Any],
        schema: str,
        announce: bool,
        configs: ConfigCache,
        pointer: AsyncCursor[Any] | None = None,
    ) -> None:
        self.conn = conn
        self.schema = schema
        self._pointer = pointer
        """The pointer's read, sent with ``BEGIN`` and not answered yet: until it is,
        ``schema`` is only the one the previous unit of work found (:meth:`_moved`)."""
        self._announce = announce
        self._configs = configs
        self._subscribed = Subscriptions()
        """What the active endpoints wanted when the batch began."""
        self._config = ConfigHistory()
        """What :meth:`read` loaded: the batch was folded with it, and the awards' history
        is rendered with its names."""
        self._combined = True
        """Whether the writes go as one statement: a small batch's (:meth:`read` says)."""
        self._writes: Writes | None = None
        """The batch's writes (made by the first :meth:`write` or :meth:`finish`, for the
        schema then known)."""
        self._award_bodies: dict[uuid.UUID, dict[str, Any]] = {}
        """The awards of the part being written, rendered (stored, and listed by
        ``points.changed``)."""

    def _q(self, text: str) -> bytes:
        return statement(text, self.schema)

    # The unit of work runs in pipeline mode (see PostgresProjectionStore.unit_of_work): each
    # method sends all its statements before it reads an answer, and reading one answer sends
    # whatever is queued before it. read() is one round trip; the writes and COMMIT are another.

    async def read(self, query: BatchQuery) -> BatchRead:
        self._combined = len(query.commands) <= COMBINED_MAX
        locking = await self._send_lock(query.topic, query.partitions)
        stored = await self._send_load(query.users, query.commands, query.idempotency)
        epochs = (
            await self.conn.execute(EPOCHS, (sorted(query.tenants),))
            if query.tenants and query.since is not None
            else None
        )
        if await self._moved():
            return await self.read(query)
        checkpoints = await self._locked(*locking)
        projection = await stored.projection()
        if epochs is not None and query.since is not None:
            found = {tenant: epoch for tenant, epoch in await epochs.fetchall()}
            # From a little earlier: batches of other partitions reach back a little further
            # than this one, and should not each load the configuration again.
            self._config = await cached_config(
                self.conn, self._configs, found, query.tenants, query.since, CONFIG_REACH
            )
        return BatchRead(checkpoints, projection, self._config)

    async def lock_checkpoints(self, topic: str, partitions: Iterable[int]) -> Mapping[int, int]:
        locking = await self._send_lock(topic, partitions)
        if await self._moved():
            return await self.lock_checkpoints(topic, partitions)
        return await self._locked(*locking)

    async def load(
        self,
        users: Iterable[UserKey],
        commands: Iterable[tuple[str, uuid.UUID]],
        idempotency: Iterable[IdempotencyKey],
    ) -> Projection:
        loading = await self._send_load(users, commands, idempotency)
        if await self._moved():
            return await self.load(users, commands, idempotency)
        return await loading.projection()

    @property
    def confirmed(self) -> bool:
        """Whether ``schema`` is known to be the active one (the pointer was read)."""
        return self._pointer is None

    async def _moved(self) -> bool:
        """Read the pointer if it is still unanswered (in the same round trip as what was
        sent since ``BEGIN``): True when it names another schema than the one assumed — a
        replay switched since the previous unit of work — which ``schema`` now is, and what
        was sent must be sent again. The pointer stays locked ``FOR SHARE``, so it cannot
        move again in this transaction."""
        if self._pointer is None:
            return False
        found = await read_active_schema(self._pointer)
        self._pointer = None
        if found == self.schema:
            return False
        self.schema = found
        return True

    async def _send_lock(
        self, topic: str, partitions: Iterable[int]
    ) -> tuple[AsyncCursor[Any], AsyncCursor[Any] | None]:
        """Send the checkpoints' lock and (when announcing) the webhook subscriptions;
        :meth:`_locked` reads them."""
        parts = sorted(set(partitions))
        await self.conn.execute(
            self._q(
                "INSERT INTO {s}.checkpoints (topic, partition, last_offset) "
                "SELECT %s, p, -1 FROM unnest(%b::int[]) AS p ON CONFLICT DO NOTHING"
            ),
            (topic, parts),
        )
        locked = await self.conn.execute(
            self._q(
                "SELECT partition, last_offset FROM {s}.checkpoints "
                "WHERE topic = %s AND partition = ANY(%s) ORDER BY partition FOR UPDATE"
            ),
            (topic, parts),
        )
        endpoints = await self.conn.execute(SUBSCRIPTIONS) if self._announce else None
        return locked, endpoints

    async def _locked(
        self, locked: AsyncCursor[Any], endpoints: AsyncCursor[Any] | None
    ) -> dict[int, int]:
        checkpoints = {p: o for p, o in await locked.fetchall()}
        if endpoints is not None:
            self._subscribed = Subscriptions(await endpoints.fetchall())
        return checkpoints

    async def _send_load(
        self,
        users: Iterable[UserKey],
        commands: Iterable[tuple[str, uuid.UUID]],
        idempotency: Iterable[IdempotencyKey],
    ) -> _Loading:
        keys = sorted(set(users))
        command_list = sorted(set(commands))
        idem = sorted(set(idempotency))
        decided = (
            await self.conn.execute(
                self._q(
                    "SELECT tenant, command_id FROM {s}.command_outcomes WHERE (tenant, "
                    "command_id) IN (SELECT * FROM unnest(%b::text[], %b::uuid[]))"
                ),
                ([c[0] for c in command_list], [c[1] for c in command_list]),
            )
            if command_list
            else None
        )
        used = (
            await self.conn.execute(
                self._q(
                    "SELECT tenant, user_id, metric_key, key, event_id FROM "
                    "{s}.idempotency_keys WHERE (tenant, user_id, metric_key, key) IN "
                    "(SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[]))"
                ),
                tuple([key[i] for key in idem] for i in range(4)),
            )
            if idem
            else None  # no command of the batch carries a key
        )
        return _Loading(await self._select_users(keys), decided, used)

    async def _select_users(self, keys: Sequence[UserKey]) -> _UserRows:
        if not keys:  # every user's state came from the cache
            return _UserRows(keys, [])
        params = ([user[0] for user in keys], [user[1] for user in keys])
        cursors = [await self.conn.execute(self._q(query), params) for query in _USER_QUERIES]
        return _UserRows(keys, cursors)

    async def write(self, part: BatchResult, outcomes: Sequence[OutcomeRow]) -> None:
        # One INSERT ... SELECT FROM <the rows as one JSON array> per table: for a small batch
        # all in one statement sent with the COMMIT, for a large one each as it is made.
        # Nothing is read back (unless a webhook message shows stored rows, read before the
        # part's writes: they show earlier batches', since other parts name other users).
        await self._start_writes()
        users = [user_params(s) for s in part.users.values() if s.profile is not None]
        await self._write(
            "INSERT INTO {s}.users (tenant, user_id, " + USER_COLUMNS + ", preferences, notices) "
            "SELECT * FROM {rows} AS batch ON CONFLICT (tenant, user_id) DO UPDATE SET "
            "name = EXCLUDED.name, email = EXCLUDED.email, tz = EXCLUDED.tz, "
            "device_tokens = EXCLUDED.device_tokens, "
            "subscribe_to_emails = EXCLUDED.subscribe_to_emails, "
            "attributes = EXCLUDED.attributes, sign_up_date = EXCLUDED.sign_up_date, "
            "updated = EXCLUDED.updated, preferences = EXCLUDED.preferences, "
            "notices = EXCLUDED.notices",
            "text, text, text, text, text, jsonb, bool, jsonb, date, timestamptz, timestamptz, "
            "jsonb, jsonb",
            users,
        )
        await self._save_streaks(part)
        await self._save_rewards(part)
        await self._save_leaderboards(part)
        await self._write(
            "INSERT INTO {s}.outbox (tenant, command_id, seq, user_id, kind, occurred, body) "
            "SELECT * FROM {rows} AS batch",
            "text, uuid, int, text, text, timestamptz, jsonb",
            outbox_rows(part),
        )
        if self._announce and self._subscribed:
            shown = await self._shown(part)
            messages = batch_messages(part, self._config, self._subscribed.wanted, shown)
            await announce(self.conn, messages)
        await self._write(
            "INSERT INTO {s}.metric_totals (tenant, user_id, metric_id, total) SELECT * FROM "
            "{rows} AS batch ON CONFLICT (tenant, user_id, metric_id) DO UPDATE SET total = "
            "EXCLUDED.total",
            "text, text, uuid, float8",
            [
                (key[0], key[1], metric_id, part.users[key].totals[metric_id])
                for key, metric_id in sorted(part.changed_totals)
            ],
        )
        await self._write(
            "INSERT INTO {s}.idempotency_keys (tenant, user_id, metric_key, key, event_id) "
            "SELECT * FROM {rows} AS batch",
            "text, text, text, text, uuid",
            [(*key, event_id) for key, event_id in part.idempotency.items()],
        )
        await self._write(
            "INSERT INTO {s}.command_outcomes (tenant, command_id, user_id, status, body, "
            'topic, partition, "offset", type, received_at) SELECT * FROM {rows} AS batch',
            "text, uuid, text, text, jsonb, text, int, bigint, text, timestamptz",
            [
                (
                    o.tenant,
                    o.command_id,
                    o.user_id,
                    o.status,
                    o.body,
                    o.source.topic,
                    o.source.partition,
                    o.source.offset,
                    o.type,
                    o.received_at,
                )
                for o in outcomes
            ],
        )

    async def finish(
        self,
        batch: BatchResult,
        outcomes: Sequence[OutcomeRow],
        dead_letters: Sequence[DeadLetter],
        checkpoints: Mapping[tuple[str, int], int],
    ) -> None:
        writes = await self._start_writes()
        await self._save_activity(batch)
        await self._write(
            'INSERT INTO {s}.dead_letters (topic, partition, "offset", reason, key, value) '
            "SELECT * FROM {rows} AS batch ON CONFLICT DO NOTHING",
            "text, int, bigint, text, bytea, bytea",
            [
                (
                    d.record.topic,
                    d.record.partition,
                    d.record.offset,
                    d.reason,
                    d.record.key,
                    d.record.value,
                )
                for d in dead_letters
            ],
        )
        await self._write(
            "UPDATE {s}.checkpoints c SET last_offset = u.o, updated = now() FROM {rows} AS "
            "u(t, p, o) WHERE c.topic = u.t AND c.partition = u.p",
            "text, int, bigint",
            [(topic, partition, offset) for (topic, partition), offset in checkpoints.items()],
        )
        for payload in notification_payloads(outcomes):
            writes.notify(OUTCOMES_CHANNEL, payload)
        if checkpoints:  # every commit, decisions or not (duplicates, dead letters only)
            writes.notify(COMMITS_CHANNEL, "")
        await writes.execute()

    async def _shown(self, result: BatchResult) -> Shown:
        """What the batch's messages show from earlier batches: the stored streak periods of
        its streak reminders, and the awards its closing ``points.changed`` windows list. Most
        batches need neither, and then nothing is read."""
        wanted = self._subscribed.wanted
        needs = stored_needs(result)
        histories = {
            k: v for k, v in needs.histories.items() if wanted(k[0], "emails.streak_reminder_due")
        }
        awards = [a for a in needs.awards if wanted(a[0], "points.changed")]
        return Shown(
            await self._histories(histories) if histories else {},
            {**self._award_bodies, **(await self._stored_awards(awards) if awards else {})},
        )

    async def _histories(
        self, wanted: Mapping[UserKey, tuple[str, date]]
    ) -> dict[UserKey, dict[date, PeriodRecord]]:
        cur = await self.conn.execute(
            self._q(
                "SELECT p.tenant, p.user_id, p.frequency, p.period_start, p.period_end, p.length, "
                "p.used_freeze, p.used_pause, p.reset_at FROM {s}.streak_periods p JOIN "
                "unnest(%s::text[], %s::text[], %s::text[], %s::date[]) AS w(tenant, user_id, "
                "frequency, since) ON p.tenant = w.tenant AND p.user_id = w.user_id AND "
                "p.frequency = w.frequency AND p.period_start >= w.since"
            ),
            (
                [k[0] for k in wanted],
                [k[1] for k in wanted],
                [f for f, _ in wanted.values()],
                [d for _, d in wanted.values()],
            ),
        )
        found: dict[UserKey, dict[date, PeriodRecord]] = {}
        for (
            tenant,
            user_id,
            frequency,
            start,
            end,
            length,
            freeze,
            pause,
            reset,
        ) in await cur.fetchall():
            record = PeriodRecord(frequency, start, end, length, freeze, pause, reset)
            found.setdefault((tenant, user_id), {})[start] = record
        return found

    async def _stored_awards(
        self, awards: Sequence[tuple[str, uuid.UUID]]
    ) -> dict[uuid.UUID, dict[str, Any]]:
        cur = await self.conn.execute(
            self._q(
                "SELECT id, body FROM {s}.points_awards WHERE (tenant, id) IN "
                "(SELECT * FROM unnest(%s::text[], %s::uuid[]))"
            ),
            ([t for t, _ in awards], [i for _, i in awards]),
        )
        return {award_id: body for award_id, body in await cur.fetchall()}

    async def _save_activity(self, result: BatchResult) -> None:
        """The daily changes, and the analytics rollups they move (``projection_0008``)."""
        # one pass over the applied metric events: how many made each daily change, and the
        # change per event attribute value
        events: dict[DailyKey, int] = {}
        by_value: dict[tuple[str, str, uuid.UUID, str, str, date], float] = {}
        for decision in result.decisions:
            outcome, command = decision.outcome, decision.command
            if not isinstance(outcome, MetricEventRecorded) or outcome.replayed:
                continue
            key = (command.tenant, command.user_id, outcome.metric_id, outcome.day)
            events[key] = events.get(key, 0) + 1
            if isinstance(command, RecordMetricEvent):
                for attribute, value in command.attributes.items():
                    cell = (*key[:3], attribute, value, outcome.day)
                    by_value[cell] = by_value.get(cell, 0.0) + command.value
        rows = [(*key, change, events.get(key, 0)) for key, change in sorted(result.daily.items())]
        await self._write(
            _METRIC_DAYS[1], "text, text, uuid, date, float8, int", rows, _METRIC_DAYS[0]
        )
        await self._write(
            "INSERT INTO {s}.metric_attribute_daily AS d (tenant, user_id, metric_id, "
            "attribute, value, day, change) SELECT * FROM {rows} AS batch ON CONFLICT "
            "(tenant, user_id, metric_id, attribute, value, day) DO UPDATE SET "
            "change = d.change + EXCLUDED.change",
            "text, text, uuid, text, text, date, float8",
            [(*key, change) for key, change in sorted(by_value.items())],
        )
        days = sorted({(tenant, user_id, day) for tenant, user_id, _, day in result.daily})
        await self._write(_USER_DAYS[1], "text, text, date", days, _USER_DAYS[0])

    async def _save_streaks(self, result: BatchResult) -> None:
        effects = result.streaks
        await self._write(
            "INSERT INTO {s}.streaks (tenant, user_id, length, extended_at, next_due, state) "
            "SELECT * FROM {rows} AS batch ON CONFLICT (tenant, user_id) DO UPDATE SET "
            "length = EXCLUDED.length, extended_at = EXCLUDED.extended_at, next_due = "
            "EXCLUDED.next_due, state = EXCLUDED.state",
            "text, text, int, timestamptz, timestamptz, jsonb",
            [
                (
                    *key,
                    state.streak.length,
                    state.streak.extended_at,
                    effects.due.get(key),
                    streak_state_json(state.streak),
                )
                for key, state in sorted(result.users.items())
                if state.profile is not None
            ],
        )
        await self._write(
            "INSERT INTO {s}.streak_periods AS p (tenant, user_id, frequency, period_start, "
            "period_end, length, used_freeze, used_pause, reset_at) SELECT * FROM {rows} AS "
            "batch ON CONFLICT (tenant, user_id, frequency, period_start) DO UPDATE SET "
            "length = EXCLUDED.length, used_freeze = EXCLUDED.used_freeze, used_pause = "
            "EXCLUDED.used_pause, reset_at = EXCLUDED.reset_at",
            "text, text, text, date, date, int, bool, bool, timestamptz",
            [
                (
                    *key,
                    p.frequency,
                    p.start,
                    p.end,
                    p.length,
                    p.used_freeze,
                    p.used_pause,
                    p.reset_at,
                )
                for key, p in effects.periods
            ],
        )
        await self._write(
            "INSERT INTO {s}.streak_pauses (tenant, id, user_id, start_date, end_date, "
            "status) SELECT * FROM {rows} AS batch ON CONFLICT (tenant, id) DO UPDATE SET "
            "status = EXCLUDED.status",
            "text, uuid, text, date, date, text",
            [(key[0], p.id, key[1], p.start, p.end, status) for key, p, status in effects.pauses],
        )

    async def _save_rewards(self, result: BatchResult) -> None:
        rewards = result.rewards
        self._award_bodies = award_bodies(rewards.awards, self._config)
        await self._write(
            "INSERT INTO {s}.user_achievements (tenant, user_id, achievement_id, "
            "achieved_at, backdated, command_id) SELECT * FROM {rows} AS batch ON CONFLICT "
            "DO NOTHING",
            "text, text, uuid, timestamptz, bool, uuid",
            [
                (*key, c.achievement.id, c.at, c.backdated, command_id)
                for key, command_id, c in rewards.completions
            ],
        )
        changed = sorted({key for key, _, _ in rewards.awards} | {k for k, _, _ in rewards.levels})
        await self._write(
            "INSERT INTO {s}.user_points (tenant, user_id, state) SELECT * FROM {rows} AS "
            "batch ON CONFLICT (tenant, user_id) DO UPDATE SET state = EXCLUDED.state",
            "text, text, jsonb",
            [
                (*key, points_state_json(state.points))
                for key, state in sorted(result.users.items())
                if state.profile is not None
            ],
        )
        await self._write(
            "INSERT INTO {s}.points_totals (tenant, user_id, system_id, total, level_id) "
            "SELECT * FROM {rows} AS batch ON CONFLICT (tenant, system_id, user_id) DO "
            "UPDATE SET total = EXCLUDED.total, level_id = EXCLUDED.level_id",
            "text, text, uuid, int8, uuid",
            [
                (*key, system_id, total, result.users[key].points.levels.get(system_id))
                for key in changed
                for system_id, total in sorted(result.users[key].points.totals.items())
            ],
        )
        await self._write(
            "INSERT INTO {s}.points_awards (tenant, id, user_id, system_id, command_id, "
            "awarded, total, awarded_at, body) SELECT * FROM {rows} AS batch",
            "text, uuid, text, uuid, uuid, int8, int8, timestamptz, jsonb",
            [
                (
                    key[0],
                    record.award.id,
                    key[1],
                    record.award.system_id,
                    command_id,
                    record.award.awarded,
                    record.award.total,
                    record.award.at,
                    self._award_bodies[record.award.id],
                )
                for key, command_id, record in rewards.awards
            ],
        )
        daily: dict[tuple[str, str, uuid.UUID, date], int] = {}
        for key, _, record in rewards.awards:
            day_key = (*key, record.award.system_id, record.day)
            daily[day_key] = daily.get(day_key, 0) + record.award.awarded
        await self._write(
            "INSERT INTO {s}.points_daily AS d (tenant, user_id, system_id, day, change) "
            "SELECT * FROM {rows} AS batch ON CONFLICT (tenant, user_id, system_id, day) DO "
            "UPDATE SET change = d.change + EXCLUDED.change",
            "text, text, uuid, date, int8",
            [(*k, v) for k, v in sorted(daily.items())],
        )

    async def _save_leaderboards(self, result: BatchResult) -> None:
        entries: dict[tuple[str, uuid.UUID, date, str], Entry] = {}
        days: dict[tuple[str, uuid.UUID, str, date, date], float] = {}
        for (tenant, user_id), _, change in result.leaderboards:  # the batch's last change wins
            entry = change.entry
            entries[(tenant, change.board.id, entry.run, user_id)] = entry
            days[(tenant, change.board.id, user_id, entry.run, change.day)] = entry.value
        await self._write(
            "INSERT INTO {s}.leaderboard_entries (tenant, leaderboard_id, run, user_id, grp, "
            "value, reached_at) SELECT * FROM {rows} AS batch ON CONFLICT (tenant, "
            "leaderboard_id, run, user_id) DO UPDATE SET grp = EXCLUDED.grp, value = "
            "EXCLUDED.value, reached_at = EXCLUDED.reached_at, written = pg_current_xact_id()",
            "text, uuid, date, text, text, float8, timestamptz",
            [
                (*key, group_key(e.group), e.value, e.reached_at)
                for key, e in sorted(entries.items())
            ],
        )
        await self._write(
            "INSERT INTO {s}.leaderboard_days (tenant, leaderboard_id, user_id, run, day, "
            "value) SELECT * FROM {rows} AS batch ON CONFLICT (tenant, leaderboard_id, "
            "user_id, run, day) DO UPDATE SET value = EXCLUDED.value",
            "text, uuid, text, date, date, float8",
            [(*key, v) for key, v in sorted(days.items())],
        )

    async def _start_writes(self) -> Writes:
        """The batch's :class:`Writes`, made at its first write."""
        if self._writes is None:
            await self._moved()  # nothing was read yet: the writes go where the pointer says
            self._writes = Writes(self.conn, self.schema, combined=self._combined)
        return self._writes

    async def _write(
        self, text: str, types: str, rows: Sequence[Sequence[Any]], before: str = ""
    ) -> None:
        """Write ``rows`` with ``text`` among the batch's writes (:meth:`Writes.add`)."""
        assert self._writes is not None, "made by write() or finish() first"
        await self._writes.add(text, types, rows, before)


class PostgresProjectionStore:
    """Writes batches into the active projection schema (or a fixed one, for replay)."""

    def __init__(
        self, pool: AsyncConnectionPool[Any], schema: str | None = None, announce: bool = True
    ) -> None:
        """``announce``: store the webhook messages of each batch (a replay does not: the live
        processor stored them when it decided the same commands)."""
        self.pool = pool
        self.schema = schema
        self.announce = announce
        self._configs = ConfigCache()
        self._found: str | None = None
        """The active schema the last unit of work found (and may assume: see below)."""

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[_PostgresUnitOfWork]:
        """One transaction in the active projection schema, holding its pointer ``FOR SHARE``.

        The transaction runs in pipeline mode: ``BEGIN`` and the pointer's read go with the
        batch's reads, and its writes with ``COMMIT``, so a batch costs two round trips. The
        reads are sent to the schema the previous unit of work found before the pointer says
        which is active; when it says another (a replay switched in between), they are sent
        again, to it, in the same transaction (a third trip, once per switch). The first unit
        of work, and the first after a failure, reads the pointer first. A write PostgreSQL
        refuses raises its error (``psycopg.DataError``…) when the block ends, and nothing of
        the transaction is kept.
        """
        async with self.pool.connection() as conn:
            try:
                async with pipelined_transaction(conn):
                    # FOR SHARE on the pointer: a replay's switch (FOR UPDATE) waits for this
                    # batch, and this batch sees the switch if it came first.
                    if self.schema is not None:
                        uow = self._unit(conn, self.schema)
                    elif self._found is not None:
                        pointer = await send_active_schema(conn, lock=True)
                        uow = self._unit(conn, self._found, pointer)
                    else:
                        uow = self._unit(conn, await active_schema(conn, lock=True))
                    yield uow
                    if self.schema is None and uow.confirmed:
                        self._found = uow.schema
            except BaseException:
                self._found = None  # the next unit of work reads the pointer first
                raise

    def _unit(
        self, conn: AsyncConnection[Any], schema: str, pointer: AsyncCursor[Any] | None = None
    ) -> _PostgresUnitOfWork:
        return _PostgresUnitOfWork(conn, schema, self.announce, self._configs, pointer)
