"""Application API write routes: metric events and user upserts, appended as commands."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse

from api import schemas
from api.auth import CurrentPrincipal, Principal
from api.presenters import EventAnswer, settled, user_json
from api.requests import fail, json_body, json_object
from ingest.contract import ContractError, RecordMetricEvent, UpsertMode, UpsertUser
from ingest.fields import decode_user_patch, parse_value, string_map
from ingest.ids import new_command_id
from ingest.service import Ingest
from projections.core.validation import RuleViolation, check_attribute_keys, check_metric_event

MAX_IDEMPOTENCY_KEY = 255


def wants_async(prefer: str | None) -> bool:
    """RFC 7240 ``Prefer: respond-async``: answer 202 once Kafka holds the command."""
    return prefer is not None and "respond-async" in prefer.lower()


def build_router(ingest: Ingest, answer: EventAnswer) -> APIRouter:  # noqa: C901 (routes are closures, counted here)
    """The Application API's writes; ``answer`` renders a metric event's stored outcome."""
    router = APIRouter()

    @router.post(
        "/metrics/{key}/event",
        status_code=201,
        tags=["metrics"],
        openapi_extra=schemas.body(schemas.METRIC_EVENT),
        responses={
            **schemas.returns(201, schemas.EVENT_RESPONSE),
            **schemas.returns(
                202,
                {"anyOf": [schemas.EVENT_RESPONSE, schemas.PENDING]},
                "Idempotent repeat, or the outcome is pending",
            ),
        },
    )
    async def metric_event(
        key: str,
        request: Request,
        caller: CurrentPrincipal,
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
        prefer: Annotated[str | None, Header()] = None,
    ) -> Any:
        """Record a metric event for a user and answer with its effects (Trophy's
        ``EventResponse``); 202 for an idempotent repeat, or when the outcome is pending."""
        body = json_object(await json_body(request))
        if idempotency_key is not None and not 0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY:
            fail(422, f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters")
        try:
            user_id, patch = decode_user_patch(body.get("user"))
            value = parse_value(body.get("value"))
            attributes = string_map(body.get("attributes"), "attributes")
        except ContractError as exc:
            fail(422, str(exc))
        caller.require_user(user_id)
        tenant = caller.tenant
        now = ingest.clock()
        config = await ingest.current_config.current(tenant, now)
        if config.metric_at(tenant, key, now) is None:
            fail(404, f"Metric with key {key!r} not found")
        try:
            check_metric_event(config, tenant, key, attributes, patch.attributes, now)
        except RuleViolation as exc:
            fail(422, str(exc))
        command = RecordMetricEvent(
            id=new_command_id(),
            tenant=tenant,
            user_id=user_id,
            received_at=now,
            metric_key=key,
            value=value,
            attributes=attributes,
            user=patch,
            idempotency_key=idempotency_key,
        )
        outcome = settled(command, await ingest.submit(command, wait=not wants_async(prefer)))
        if isinstance(outcome, JSONResponse):
            return outcome
        status = 202 if outcome.status == "replayed" else 201
        return JSONResponse(await answer(outcome), status_code=status)

    async def upsert(
        caller: Principal, raw: Any, mode: UpsertMode, path_id: str | None, created_status: int
    ) -> JSONResponse:
        body = json_object(raw)
        if path_id is not None:
            body = {**body, "id": path_id}
        try:
            user_id, patch = decode_user_patch(body)
        except ContractError as exc:
            fail(422, str(exc))
        caller.require_user(user_id)
        tenant = caller.tenant
        now = ingest.clock()
        try:
            check_attribute_keys(
                await ingest.current_config.current(tenant, now),
                tenant,
                "user",
                patch.attributes,
                now,
            )
        except RuleViolation as exc:
            fail(422, str(exc))
        command = UpsertUser(new_command_id(), tenant, user_id, now, patch, mode)
        outcome = settled(command, await ingest.submit(command))
        if isinstance(outcome, JSONResponse):
            return outcome
        profile = await ingest.reader.user(tenant, user_id)
        if profile is None:  # pragma: no cover - the outcome was committed with the user
            fail(503, "user not readable yet; retry")
        status = created_status if outcome.body.get("created") else 200
        return JSONResponse(user_json(user_id, profile), status_code=status)

    user_responses = {
        **schemas.returns(200, schemas.USER),
        **schemas.returns(201, schemas.USER),
        **schemas.returns(202, schemas.PENDING, "The outcome is pending"),
    }

    @router.post(
        "/users",
        status_code=201,
        tags=["users"],
        responses=user_responses,
        openapi_extra=schemas.body(schemas.UPSERTED_USER),
    )
    async def create_user(request: Request, caller: CurrentPrincipal) -> Any:
        """Create a user; 409 when the id is taken."""
        return await upsert(caller, await json_body(request), "create", None, 201)

    @router.put(
        "/users/{id}",
        tags=["users"],
        responses=user_responses,
        openapi_extra=schemas.body(schemas.UPDATED_USER),
    )
    async def identify_user(id: str, request: Request, caller: CurrentPrincipal) -> Any:
        """Create or update a user (Trophy's "identify")."""
        return await upsert(caller, await json_body(request), "identify", id, 200)

    @router.patch(
        "/users/{id}",
        tags=["users"],
        responses=user_responses,
        openapi_extra=schemas.body(schemas.UPDATED_USER),
    )
    async def update_user(id: str, request: Request, caller: CurrentPrincipal) -> Any:
        """Update an existing user; 404 when unknown."""
        return await upsert(caller, await json_body(request), "update", id, 200)

    return router
