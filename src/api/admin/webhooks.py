"""Admin API for webhooks (Laurel's own; Trophy configures them in its dashboard), following
the admin conventions: array create with per-item ``issues``, ``ids=`` deletes, per tenant.

A secret is shown when an endpoint is created and when it is rotated, never otherwise. URLs
are checked when configured (``check_url``): http(s) only, and by default never an address
that resolves inside the network.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from api.admin.items import ItemError, created_response, delete_each, for_each_item, parse_items
from api.auth import Tenant
from api.presenters import iso
from api.requests import Paging, fail, json_body
from projections.store.webhook_messages import TROPHY_TYPES
from projections.store.webhooks import Delivery, Endpoint, WebhookStore

CheckUrl = Callable[[str], Awaitable[str | None]]
"""What is wrong with a destination URL (its form, or where it resolves), or ``None``."""

MAX_DESCRIPTION = 1000
MAX_REPLAY_IDS = 1000
STATES = ("pending", "delivered", "failed")


def endpoint_json(row: Endpoint, secret: bool = False) -> dict[str, Any]:
    """An endpoint as the Admin API shows it; ``secret`` only on create and rotation."""
    body: dict[str, Any] = {
        "id": str(row.id),
        "url": row.url,
        "events": row.events if row.events is not None else list(TROPHY_TYPES),
        "description": row.description,
        "status": row.status,
        "disabledReason": row.disabled_reason,
        "created": iso(row.created),
        "updated": iso(row.updated),
    }
    if secret:
        body["secret"] = row.secret
    return body


def delivery_json(row: Delivery) -> dict[str, Any]:
    """A deliveries-log entry."""
    return {
        "messageId": row.message_id,
        "type": row.type,
        "userId": row.user_id,
        "state": row.state,
        "attempts": row.attempts,
        "created": iso(row.created),
        "finished": iso(row.finished) if row.finished else None,
        "nextAttempt": iso(row.next_attempt)
        if row.next_attempt and row.state == "pending"
        else None,
        "lastStatusCode": row.last_status,
        "lastError": row.last_error,
        "latencyMs": round(row.latency_ms, 1) if row.latency_ms is not None else None,
    }


def _events(raw: Any) -> list[str] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw or not all(isinstance(e, str) for e in raw):
        raise ItemError("events must be a non-empty array of event types")
    unknown = sorted(set(raw) - set(TROPHY_TYPES))
    if unknown:
        raise ItemError(f"events: unknown type {unknown[0]!r}; known: {', '.join(TROPHY_TYPES)}")
    return sorted(set(raw), key=TROPHY_TYPES.index)


def _description(raw: Any) -> str | None:
    if raw is not None and (not isinstance(raw, str) or len(raw) > MAX_DESCRIPTION):
        raise ItemError(f"description must be a string of at most {MAX_DESCRIPTION} characters")
    return raw


def _status(raw: Any) -> str:
    if raw not in ("active", "disabled"):
        raise ItemError("status must be 'active' or 'disabled'")
    return str(raw)


async def _url(raw: Any, check_url: CheckUrl) -> str:
    if not isinstance(raw, str) or not raw:
        raise ItemError("url must be a non-empty string")
    problem = await check_url(raw)
    if problem is not None:
        raise ItemError(problem)
    return raw


def _instant(body: dict[str, Any], name: str) -> datetime | None:
    raw = body.get(name)
    if raw is None:
        return None
    try:
        at = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        fail(422, f"{name} must be an ISO 8601 instant")
    if at.tzinfo is None:
        fail(422, f"{name} must carry a time zone offset (or Z)")
    return at


def build_router(store: WebhookStore, check_url: CheckUrl) -> APIRouter:  # noqa: C901 (routes are closures, counted here)
    """Endpoints (create, list, get, update, delete, rotate the secret), their deliveries log,
    replays and test pings."""
    router = APIRouter(tags=["webhooks"])

    async def found(tenant: str, id: uuid.UUID) -> Endpoint:
        endpoint = await store.endpoint(tenant, id)
        if endpoint is None:
            fail(404, f"Webhook {id} not found")
        return endpoint

    @router.post("/webhooks")
    async def create_webhooks(request: Request, tenant: Tenant) -> Any:
        """Create endpoints; each answer shows its signing secret (``whsec_…``) once."""

        async def act(index: int, item: dict[str, Any]) -> dict[str, Any]:
            url = await _url(item.get("url"), check_url)
            events = _events(item.get("events"))
            description = _description(item.get("description"))
            status = _status(item.get("status", "active"))
            created = await store.create(tenant, url, events, description, status)
            return endpoint_json(created, secret=True)

        created, issues = await for_each_item(parse_items(await json_body(request)), act)
        return created_response(created, issues)

    @router.get("/webhooks")
    async def list_webhooks(tenant: Tenant, paging: Paging) -> Any:
        return [endpoint_json(e) for e in await store.endpoints(tenant, paging.limit, paging.skip)]

    @router.get("/webhooks/{id}")
    async def get_webhook(id: uuid.UUID, tenant: Tenant) -> Any:
        return endpoint_json(await found(tenant, id))

    @router.patch("/webhooks/{id}")
    async def update_webhook(id: uuid.UUID, request: Request, tenant: Tenant) -> Any:
        """Change the url, events (``null``: every type), description or status; enabling a
        disabled endpoint resumes its pending deliveries."""
        await found(tenant, id)
        body = await json_body(request)
        if not isinstance(body, dict):
            fail(422, "request body must be a JSON object")
        unknown = sorted(set(body) - {"url", "events", "description", "status"})
        if unknown:
            fail(422, f"{unknown[0]} cannot change (url, events, description and status can)")
        changes: dict[str, Any] = {}
        try:
            if "url" in body:
                changes["url"] = await _url(body["url"], check_url)
            if "events" in body:
                changes["events"] = _events(body["events"])
            if "description" in body:
                changes["description"] = _description(body["description"])
            if "status" in body:
                changes["status"] = _status(body["status"])
        except ItemError as exc:
            fail(422, str(exc))
        if not changes:
            return endpoint_json(await found(tenant, id))
        updated = await store.update(tenant, id, changes)
        if updated is None:
            fail(404, f"Webhook {id} not found")
        return endpoint_json(updated)

    @router.delete("/webhooks")
    async def delete_webhooks(
        tenant: Tenant, ids: Annotated[list[str] | None, Query()] = None
    ) -> Any:
        async def remove(endpoint_id: uuid.UUID) -> bool:
            return await store.delete(tenant, endpoint_id)

        return await delete_each(ids, remove, "Webhook")

    @router.post("/webhooks/{id}/rotate-secret")
    async def rotate_secret(id: uuid.UUID, tenant: Tenant) -> Any:
        """A new secret; the previous one keeps signing alongside (a second ``v1,`` signature
        in ``webhook-signature``) for 24 hours."""
        rotated = await store.rotate(tenant, id)
        if rotated is None:
            fail(404, f"Webhook {id} not found")
        until = rotated.previous_secret_until
        return {
            "id": str(rotated.id),
            "secret": rotated.secret,
            "previousSecretExpires": iso(until) if until else None,
        }

    @router.get("/webhooks/{id}/deliveries")
    async def list_deliveries(
        id: uuid.UUID,
        tenant: Tenant,
        paging: Paging,
        state: Annotated[str | None, Query()] = None,
        type: Annotated[str | None, Query()] = None,
    ) -> Any:
        """The deliveries log, newest first; ``state`` (pending, delivered, failed) and
        ``type`` filter it."""
        await found(tenant, id)
        if state is not None and state not in STATES:
            fail(422, f"state must be one of {', '.join(STATES)}")
        rows = await store.deliveries(id, state, type, paging.limit, paging.skip)
        return [delivery_json(row) for row in rows]

    @router.post("/webhooks/{id}/replay")
    async def replay(id: uuid.UUID, request: Request, tenant: Tenant) -> Any:
        """Deliver again, with the same message ids: the messages decided in
        ``[since, until)`` or those named by ``messageIds``."""
        endpoint = await found(tenant, id)
        body = await json_body(request)
        if not isinstance(body, dict):
            fail(422, "request body must be a JSON object")
        ids = body.get("messageIds")
        since, until = _instant(body, "since"), _instant(body, "until")
        if ids is not None:
            if since or until:
                fail(422, "give either messageIds or since/until, not both")
            if (
                not isinstance(ids, list)
                or not 1 <= len(ids) <= MAX_REPLAY_IDS
                or not all(isinstance(i, str) for i in ids)
            ):
                fail(422, f"messageIds must be an array of 1 to {MAX_REPLAY_IDS} strings")
        elif since is None:
            fail(422, "give messageIds, or since (and optionally until)")
        queued = await store.replay(endpoint, since, until, ids)
        return {"queued": queued}

    @router.post("/webhooks/{id}/test")
    async def test_webhook(id: uuid.UUID, tenant: Tenant) -> Any:
        """Send a signed ``webhook.test`` message; its delivery shows in the log."""
        endpoint = await found(tenant, id)
        return {"messageId": await store.ping(endpoint, datetime.now().astimezone())}

    return router
