"""A user's preferences: notification channels, and streak preferences (which travel as a
command through the user-keyed topic; the answer waits for the processor's outcome)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api import schemas
from api.auth import CurrentPrincipal
from api.presenters import settled
from api.requests import fail, json_body, json_object
from ingest.contract import ContractError, UpdatePreferences
from ingest.fields import decode_preferences
from ingest.ids import new_command_id
from ingest.service import Ingest
from projections.core.validation import RuleViolation, check_streak_metrics
from projections.store.codecs import preferences_json


def build_router(ingest: Ingest) -> APIRouter:
    """``GET`` and ``PATCH /users/{id}/preferences``."""
    router = APIRouter()
    reader = ingest.reader

    @router.get(
        "/users/{id}/preferences",
        tags=["users"],
        responses=schemas.returns(200, schemas.PREFERENCES),
    )
    async def get_preferences(id: str, caller: CurrentPrincipal) -> Any:
        """The user's notification and streak preferences."""
        caller.require_user(id)
        states = await reader.user_states(caller.tenant, [id])
        if id not in states:
            fail(404, f"User with id {id!r} not found")
        return preferences_json(states[id].preferences)

    @router.patch(
        "/users/{id}/preferences",
        tags=["users"],
        openapi_extra=schemas.body(schemas.PREFERENCES_UPDATE),
        responses={
            **schemas.returns(200, schemas.PREFERENCES),
            **schemas.returns(202, schemas.PENDING, "The outcome is pending"),
        },
    )
    async def update_preferences(id: str, request: Request, caller: CurrentPrincipal) -> Any:
        """Set notification channels and streak preferences; evaluation mode, metrics and days
        off need streak customisation (403 otherwise)."""
        caller.require_user(id)
        try:
            notifications, streak = decode_preferences(json_object(await json_body(request)))
        except ContractError as exc:
            fail(422, str(exc))
        now = ingest.clock()
        config = await ingest.current_config.current(caller.tenant, now)
        settings = config.streak_at(caller.tenant, now)
        if streak.overrides and not settings.customization_enabled:
            fail(403, "Streak customization is not enabled for this account")
        if isinstance(streak.metrics, tuple):
            try:
                check_streak_metrics(config, caller.tenant, streak.metrics, now)
            except RuleViolation as exc:
                fail(422, str(exc))
        command = UpdatePreferences(new_command_id(), caller.tenant, id, now, notifications, streak)
        outcome = settled(command, await ingest.submit(command))
        if isinstance(outcome, JSONResponse):
            return outcome
        states = await ingest.reader.user_states(caller.tenant, [id])
        return preferences_json(states[id].preferences)

    return router
