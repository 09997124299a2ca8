"""Webhook endpoints, messages and deliveries in PostgreSQL (the ``laurel`` schema).

The processor stores each batch's messages and their deliveries in its transaction
(:data:`ANNOUNCE`); the Admin API configures endpoints and reads the deliveries log; the
webhooks process claims due deliveries (:meth:`WebhookStore.claim`), sends them and records
what happened (:meth:`WebhookStore.record`).

Order: a delivery is due only when no earlier message (by decision) for the same user and
endpoint is still pending, so a later message waits while an earlier one is retried. Claims
lease a delivery (``FOR UPDATE SKIP LOCKED``, then ``leased_until``): several webhooks
processes share the work, and one that dies mid-delivery leaves the lease to run out.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from psycopg import AsyncConnection
from psycopg.rows import class_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from projections.store.connections import execute_rows, statement
from projections.store.webhook_messages import PING, Message, message_id

WEBHOOKS_CHANNEL = "laurel_webhooks"
"""NOTIFY channel waking the webhooks processes: new deliveries are due."""

SUBSCRIPTIONS = "SELECT tenant, events FROM laurel.webhook_endpoints WHERE status = 'active'"
"""What the processor reads at the start of each batch: which messages anyone wants."""

ANNOUNCE = (
    "WITH new AS (INSERT INTO laurel.webhook_messages (id, tenant, user_id, type, created, body) "
    "SELECT c0, c1, c2, c3, c4, c5 FROM {rows} AS batch ORDER BY c6 "
    "ON CONFLICT (id) DO NOTHING RETURNING id, position, tenant, user_id, type), "
    "queued AS (INSERT INTO laurel.webhook_deliveries (endpoint_id, message_id, position, "
    "user_id, next_attempt, created) SELECT e.id, n.id, n.position, n.user_id, now(), now() "
    "FROM new n JOIN laurel.webhook_endpoints e ON e.tenant = n.tenant AND e.status = 'active' "
    f"AND (e.events IS NULL OR n.type = ANY(e.events)) RETURNING 1) SELECT pg_notify("
    f"'{WEBHOOKS_CHANNEL}', '') WHERE EXISTS (SELECT FROM queued)"
)
"""Store messages (ids already stored, as a replay's are, add nothing) and one delivery of
each new message to every active endpoint of its tenant that wants its type; wake the
webhooks processes (on commit) only if a delivery was queued. One statement: the processor
sends it in its batch's pipeline, and the announcer proposes the same messages round after
round without waking anyone."""
ANNOUNCE_TYPES = "text, text, text, text, timestamptz, jsonb, int"

State = Literal["pending", "delivered", "failed"]
ROTATION_OVERLAP = timedelta(hours=24)
"""How long a rotated-out secret keeps signing beside the new one."""


def new_secret() -> str:
    """A signing secret as the Standard Webhooks specification writes one."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _by_tenant(rows: Iterable[tuple[str, list[str] | None]]) -> dict[str, set[str] | None]:
    """Tenant → the types its active endpoints want (``None``: every type)."""
    found: dict[str, set[str] | None] = {}
    for tenant, events in rows:
        if events is None or found.get(tenant, set()) is None:
            found[tenant] = None
        else:
            found[tenant] = (found.get(tenant) or set()) | set(events)
    return found


class Subscriptions:
    """Which types each tenant's active endpoints want, from :data:`SUBSCRIPTIONS`'s rows."""

    def __init__(self, rows: Iterable[tuple[str, list[str] | None]] = ()) -> None:
        self._types = _by_tenant(rows)

    def __bool__(self) -> bool:
        return bool(self._types)

    def tenants_wanting(self, kinds: Iterable[str]) -> list[str]:
        """The tenants with an active endpoint that wants any of ``kinds``."""
        return sorted(t for t in self._types if any(self.wanted(t, k) for k in kinds))

    def wanted(self, tenant: str, kind: str) -> bool:
        """Whether some active endpoint of ``tenant`` wants messages of type ``kind``."""
        if tenant not in self._types:
            return False
        types = self._types[tenant]
        return types is None or kind in types


async def current_subscriptions(conn: AsyncConnection[Any]) -> Subscriptions:
    """What the active endpoints want, as of now."""
    cur = await conn.execute(SUBSCRIPTIONS)
    return Subscriptions(await cur.fetchall())


async def announce(conn: AsyncConnection[Any], messages: Sequence[Message]) -> None:
    """Store ``messages`` in the caller's transaction (:data:`ANNOUNCE`)."""
    if not messages:
        return
    rows = [
        (m.id, m.tenant, m.user_id, m.type, m.created, m.body, ordinal)
        for ordinal, m in enumerate(messages)
    ]
    await execute_rows(conn, statement(ANNOUNCE, types=ANNOUNCE_TYPES), rows)


@dataclass(frozen=True)
class Endpoint:
    """An endpoint's row."""

    id: uuid.UUID
    tenant: str
    url: str
    events: list[str] | None
    description: str | None
    status: str
    disabled_reason: str | None
    secret: str
    previous_secret: str | None
    previous_secret_until: datetime | None
    failing_since: datetime | None
    created: datetime
    updated: datetime

    def signing_secrets(self, now: datetime) -> list[str]:
        """The secrets that sign now: the current one, and the previous one until it retires."""
        until = self.previous_secret_until
        if self.previous_secret and until is not None and now < until:
            return [self.secret, self.previous_secret]
        return [self.secret]


@dataclass(frozen=True)
class Delivery:
    """One message's delivery to one endpoint, as the deliveries log shows it."""

    endpoint_id: uuid.UUID
    message_id: str
    type: str
    user_id: str | None
    state: State
    attempts: int
    next_attempt: datetime | None
    last_status: int | None
    last_error: str | None
    latency_ms: float | None
    created: datetime
    finished: datetime | None


@dataclass(frozen=True)
class Claimed:
    """A delivery leased to this process: what to send, where, signed with what."""

    endpoint: Endpoint
    message_id: str
    type: str
    body: Mapping[str, Any]
    attempts: int
    """Attempts so far, this one included."""
    created: datetime


@dataclass(frozen=True)
class Attempt:
    """What one attempt came to: ``status`` (None: no answer), ``error``, ``latency_ms``, and
    when to try again (None: don't), or that the endpoint is to be disabled, and why."""

    status: int | None
    error: str | None
    latency_ms: float
    retry_in_s: float | None
    disable: str | None = None

    @property
    def delivered(self) -> bool:
        """Whether the receiver took it (any 2xx)."""
        return self.status is not None and 200 <= self.status < 300

    @property
    def state(self) -> State:
        """The delivery's state after this attempt."""
        if self.delivered:
            return "delivered"
        if self.retry_in_s is not None and self.disable is None:
            return "pending"
        return "failed"


_EDITABLE = frozenset({"url", "events", "description", "status"})
_ENDPOINT_COLUMNS = (
    "id, tenant, url, events, description, status, disabled_reason, secret, previous_secret, "
    "previous_secret_until, failing_since, created, updated"
)
_E_COLUMNS = ", ".join(f"e.{c.strip()}" for c in _ENDPOINT_COLUMNS.split(","))
_DELIVERY_COLUMNS = (
    "d.endpoint_id, d.message_id, m.type, m.user_id, d.state, d.attempts, d.next_attempt, "
    "d.last_status, d.last_error, d.latency_ms, d.created, d.finished"
)
_HEADS = (
    "FROM laurel.webhook_deliveries d JOIN laurel.webhook_endpoints e ON e.id = d.endpoint_id "
    "AND e.status = 'active' WHERE d.state = 'pending' AND NOT EXISTS (SELECT 1 FROM "
    "laurel.webhook_deliveries p WHERE p.state = 'pending' AND p.endpoint_id = d.endpoint_id "
    "AND p.user_id = d.user_id AND p.position < d.position)"
)
"""Pending deliveries of active endpoints with no earlier pending message of the same user
for the same endpoint: the only ones that may be sent (the order guarantee)."""
_CLAIM = (
    f"WITH due AS (SELECT d.endpoint_id, d.message_id {_HEADS} AND d.next_attempt <= now() "
    "AND (d.leased_until IS NULL OR d.leased_until < now()) "
    "ORDER BY d.next_attempt, d.position LIMIT %s FOR UPDATE OF d SKIP LOCKED) "
    ", leased AS (UPDATE laurel.webhook_deliveries d SET leased_until = now() + "
    "make_interval(secs => %s), attempts = d.attempts + 1 FROM due WHERE (d.endpoint_id, "
    "d.message_id) = (due.endpoint_id, due.message_id) RETURNING d.endpoint_id, d.message_id, "
    f"d.attempts) SELECT {_E_COLUMNS}, m.id, m.type, m.body, leased.attempts, m.created "
    "FROM leased JOIN laurel.webhook_endpoints e ON e.id = leased.endpoint_id "
    "JOIN laurel.webhook_messages m ON m.id = leased.message_id ORDER BY m.position"
)
"""Lease due deliveries and read what to send, in one statement (one round trip)."""
_DELIVERED = (
    "WITH d AS (UPDATE laurel.webhook_deliveries SET state = 'delivered', leased_until = NULL, "
    "next_attempt = NULL, last_status = %s, last_error = NULL, latency_ms = %s, "
    "finished = now() WHERE endpoint_id = %s AND message_id = %s AND attempts = %s "
    "RETURNING endpoint_id) "
    "UPDATE laurel.webhook_endpoints SET failing_since = NULL "
    "WHERE id IN (SELECT endpoint_id FROM d) AND failing_since IS NOT NULL"
)
"""Record a success and end the endpoint's failure streak, in one statement. Only the claim
that made the attempt records it (``attempts`` unchanged since): a replay or another process's
claim in the meantime is not overwritten."""


class WebhookStore:
    """Endpoints (per tenant), their deliveries log, and the delivery queue."""

    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self.pool = pool

    # -- endpoints (the Admin API) ------------------------------------------------------------

    async def _endpoints(self, query: str, params: Sequence[Any]) -> list[Endpoint]:
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=class_row(Endpoint))
            await cur.execute(query, params)
            rows: list[Endpoint] = await cur.fetchall()
            return rows

    async def create(
        self,
        tenant: str,
        url: str,
        events: list[str] | None,
        description: str | None,
        status: str,
    ) -> Endpoint:
        """A new endpoint with a fresh secret."""
        (created,) = await self._endpoints(
            "INSERT INTO laurel.webhook_endpoints (id, tenant, url, events, description, "
            "status, secret, created, updated) VALUES (%s, %s, %s, %s, %s, %s, %s, now(), "
            f"now()) RETURNING {_ENDPOINT_COLUMNS}",
            (uuid.uuid4(), tenant, url, events, description, status, new_secret()),
        )
        return created

    async def endpoints(self, tenant: str, limit: int, skip: int) -> list[Endpoint]:
        """The tenant's endpoints, oldest first."""
        return await self._endpoints(
            f"SELECT {_ENDPOINT_COLUMNS} FROM laurel.webhook_endpoints WHERE tenant = %s "
            "ORDER BY created, id LIMIT %s OFFSET %s",
            (tenant, limit, skip),
        )

    async def endpoint(self, tenant: str, endpoint_id: uuid.UUID) -> Endpoint | None:
        """The tenant's endpoint, or ``None``."""
        return _first(
            await self._endpoints(
                f"SELECT {_ENDPOINT_COLUMNS} FROM laurel.webhook_endpoints "
                "WHERE tenant = %s AND id = %s",
                (tenant, endpoint_id),
            )
        )

    async def update(
        self, tenant: str, endpoint_id: uuid.UUID, changes: Mapping[str, Any]
    ) -> Endpoint | None:
        """Apply ``changes`` (url, events, description, status); enabling clears the reason it
        was disabled and its failure streak."""
        if not set(changes) <= _EDITABLE:
            raise ValueError(f"only {sorted(_EDITABLE)} can change")
        sets = [f"{column} = %s" for column in changes]
        if changes.get("status") == "active":
            sets += ["disabled_reason = NULL", "failing_since = NULL"]
        return _first(
            await self._endpoints(
                f"UPDATE laurel.webhook_endpoints SET {', '.join(sets)}, updated = now() "
                f"WHERE tenant = %s AND id = %s RETURNING {_ENDPOINT_COLUMNS}",
                (*changes.values(), tenant, endpoint_id),
            )
        )

    async def delete(self, tenant: str, endpoint_id: uuid.UUID) -> bool:
        """Delete the endpoint and its deliveries log."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "DELETE FROM laurel.webhook_endpoints WHERE tenant = %s AND id = %s",
                (tenant, endpoint_id),
            )
            return bool(cur.rowcount > 0)

    async def rotate(self, tenant: str, endpoint_id: uuid.UUID) -> Endpoint | None:
        """A new secret; the current one keeps signing beside it for :data:`ROTATION_OVERLAP`."""
        return _first(
            await self._endpoints(
                "UPDATE laurel.webhook_endpoints SET previous_secret = secret, secret = %s, "
                "previous_secret_until = now() + %s, updated = now() "
                f"WHERE tenant = %s AND id = %s RETURNING {_ENDPOINT_COLUMNS}",
                (new_secret(), ROTATION_OVERLAP, tenant, endpoint_id),
            )
        )

    # -- the deliveries log -------------------------------------------------------------------

    async def deliveries(
        self,
        endpoint_id: uuid.UUID,
        state: str | None,
        type: str | None,
        limit: int,
        skip: int,
    ) -> list[Delivery]:
        """The endpoint's deliveries, newest first, optionally of one state and one type."""
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=class_row(Delivery))
            await cur.execute(
                f"SELECT {_DELIVERY_COLUMNS} FROM laurel.webhook_deliveries d "
                "JOIN laurel.webhook_messages m ON m.id = d.message_id WHERE d.endpoint_id = %s "
                "AND (%s::text IS NULL OR d.state = %s) AND (%s::text IS NULL OR m.type = %s) "
                "ORDER BY d.created DESC, d.position DESC LIMIT %s OFFSET %s",
                (endpoint_id, state, state, type, type, limit, skip),
            )
            rows: list[Delivery] = await cur.fetchall()
            return rows

    async def replay(
        self,
        endpoint: Endpoint,
        since: datetime | None = None,
        until: datetime | None = None,
        message_ids: Sequence[str] | None = None,
    ) -> int:
        """Deliver again (same message ids) the tenant's messages the endpoint wants, decided
        in ``[since, until)`` or named by ``message_ids``; returns how many were queued."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "INSERT INTO laurel.webhook_deliveries AS d (endpoint_id, message_id, position, "
                "user_id, next_attempt, created) SELECT %(endpoint)s, m.id, m.position, "
                "m.user_id, now(), now() FROM laurel.webhook_messages m "
                "WHERE m.tenant = %(tenant)s "
                "AND (%(events)s::text[] IS NULL OR m.type = ANY(%(events)s) OR m.type = %(ping)s) "
                # a test ping goes only to the endpoint it was sent to
                "AND (m.type <> %(ping)s OR EXISTS (SELECT 1 FROM laurel.webhook_deliveries x "
                "WHERE x.endpoint_id = %(endpoint)s AND x.message_id = m.id)) "
                "AND (%(since)s::timestamptz IS NULL OR m.created >= %(since)s) "
                "AND (%(until)s::timestamptz IS NULL OR m.created < %(until)s) "
                "AND (%(ids)s::text[] IS NULL OR m.id = ANY(%(ids)s)) "
                "ON CONFLICT (endpoint_id, message_id) DO UPDATE SET state = 'pending', "
                "attempts = 0, next_attempt = now(), leased_until = NULL, finished = NULL",
                {
                    "endpoint": endpoint.id,
                    "tenant": endpoint.tenant,
                    "events": endpoint.events,
                    "ping": PING,
                    "since": since,
                    "until": until,
                    "ids": list(message_ids) if message_ids is not None else None,
                },
            )
            await conn.execute("SELECT pg_notify(%s, '')", (WEBHOOKS_CHANNEL,))
            return int(cur.rowcount)

    async def ping(self, endpoint: Endpoint, at: datetime) -> str:
        """Queue a signed test message to the endpoint; returns its id."""
        id = message_id(f"{endpoint.tenant}/{endpoint.id}/ping/{uuid.uuid4()}", 0)
        body = {"id": id, "type": PING, "timestamp": at.isoformat().replace("+00:00", "Z")}
        async with self.pool.connection() as conn:
            await conn.execute(
                "WITH m AS (INSERT INTO laurel.webhook_messages (id, tenant, user_id, type, "
                "created, body) VALUES (%s, %s, NULL, %s, %s, %s) RETURNING id, position) "
                "INSERT INTO laurel.webhook_deliveries (endpoint_id, message_id, position, "
                "next_attempt, created) SELECT %s, id, position, now(), now() FROM m",
                (id, endpoint.tenant, PING, at, Jsonb(body), endpoint.id),
            )
            await conn.execute("SELECT pg_notify(%s, '')", (WEBHOOKS_CHANNEL,))
        return id

    # -- the delivery queue (the webhooks process) --------------------------------------------

    async def claim(self, limit: int, lease_s: float) -> list[Claimed]:
        """Lease up to ``limit`` due deliveries for ``lease_s`` seconds."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(_CLAIM, (limit, lease_s))
            rows = await cur.fetchall()
        return [Claimed(Endpoint(*row[:13]), *row[13:]) for row in rows]

    async def record(self, claimed: Claimed, attempt: Attempt, disable_after: timedelta) -> None:
        """Record an attempt: delivered, to be retried, or failed for good; track the endpoint's
        failure streak, and disable it (saying why) on a 410 or after ``disable_after``
        without a success."""
        if attempt.delivered:  # the common case, in one statement
            async with self.pool.connection() as conn:
                await conn.execute(
                    _DELIVERED,
                    (
                        attempt.status,
                        attempt.latency_ms,
                        claimed.endpoint.id,
                        claimed.message_id,
                        claimed.attempts,
                    ),
                )
            return
        state = attempt.state
        next_in = attempt.retry_in_s if state == "pending" else None
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute(
                "UPDATE laurel.webhook_deliveries SET state = %s, leased_until = NULL, "
                "next_attempt = CASE WHEN %s::float8 IS NULL THEN NULL "
                "ELSE now() + make_interval(secs => %s) END, last_status = %s, "
                "last_error = %s, latency_ms = %s, finished = CASE WHEN %s = 'pending' "
                "THEN NULL ELSE now() END WHERE endpoint_id = %s AND message_id = %s "
                "AND attempts = %s",  # still this claim's (see _DELIVERED)
                (
                    state,
                    next_in,
                    next_in,
                    attempt.status,
                    attempt.error,
                    attempt.latency_ms,
                    state,
                    claimed.endpoint.id,
                    claimed.message_id,
                    claimed.attempts,
                ),
            )
            await conn.execute(
                "UPDATE laurel.webhook_endpoints SET failing_since = coalesce(failing_since, "
                "now()) WHERE id = %s",
                (claimed.endpoint.id,),
            )
            reason = attempt.disable
            await conn.execute(
                "UPDATE laurel.webhook_endpoints SET status = 'disabled', updated = now(), "
                "disabled_reason = coalesce(%s, 'no successful delivery since ' || "
                "failing_since) WHERE id = %s AND status = 'active' "
                "AND (%s::text IS NOT NULL OR failing_since < now() - %s)",
                (reason, claimed.endpoint.id, reason, disable_after),
            )

    async def next_due_in(self) -> float | None:
        """Seconds until the next delivery that may be sent is due (0: one is), or ``None``."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT extract(epoch FROM min(greatest(d.next_attempt, d.leased_until)) - "
                f"now()) {_HEADS}"
            )
            row = await cur.fetchone()
        return None if row is None or row[0] is None else max(0.0, float(row[0]))

    async def backlog(self) -> tuple[int, float | None]:
        """How many deliveries are pending, and how long (seconds, by the database's clock) the
        oldest has waited since its message was stored (``None``: none is pending)."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT count(*), extract(epoch FROM now() - min(m.stored)) "
                "FROM laurel.webhook_deliveries d JOIN laurel.webhook_messages m "
                "ON m.id = d.message_id WHERE d.state = 'pending'"
            )
            row = await cur.fetchone()
        assert row is not None
        return int(row[0]), None if row[1] is None else float(row[1])

    async def prune(self, retention: timedelta) -> int:
        """Delete messages (and their deliveries) stored more than ``retention`` ago by the
        database's clock (not the api's, which tests and demos may move), and messages of
        archived tenants; returns how many."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "DELETE FROM laurel.webhook_messages m WHERE m.stored < now() - %s "
                "OR m.tenant IN (SELECT customer_id FROM laurel.tenants WHERE status = "
                "'archived')",
                (retention,),
            )
            return int(cur.rowcount)


def _first(rows: list[Endpoint]) -> Endpoint | None:
    return rows[0] if rows else None
