"""``POST /v1/achievements/{key}/complete``: completing an API-triggered achievement appends a
command and waits for its outcome, like a metric event."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api import schemas
from api.auth import CurrentPrincipal
from api.presenters import iso, settled
from api.requests import fail, json_body, json_object
from ingest.contract import ContractError
from ingest.fields import decode_user_patch
from ingest.ids import new_command_id
from ingest.service import Ingest
from projections.core.commands import CompleteAchievement
from projections.core.validation import RuleViolation, check_attribute_keys
from projections.store.codecs import Document, achievement_from
from projections.store.trophy_json import achievement_json


def build_router(ingest: Ingest) -> APIRouter:
    """``POST /achievements/{key}/complete``."""
    router = APIRouter()
    docs = ingest.documents

    @router.post(
        "/achievements/{key}/complete",
        tags=["achievements"],
        status_code=201,
        openapi_extra=schemas.body(schemas.COMPLETE_ACHIEVEMENT),
        responses={
            **schemas.returns(201, schemas.OBJECT, "Completed"),
            **schemas.returns(200, schemas.OBJECT, "Already completed: the first completion"),
            **schemas.returns(202, schemas.PENDING, "The outcome is pending"),
        },
    )
    async def complete(key: str, request: Request, caller: CurrentPrincipal) -> Any:
        """Complete an API-triggered achievement for a user (created or updated inline). A
        repeat changes nothing and answers 200 with the first completion."""
        body = json_object(await json_body(request))
        try:
            user_id, patch = decode_user_patch(body.get("user"))
        except ContractError as exc:
            fail(422, str(exc))
        caller.require_user(user_id)
        tenant, now = caller.tenant, ingest.clock()
        found = await docs.by_key("achievement", tenant, key)
        if found is None or found.body["status"] == "inactive":
            fail(404, f"Achievement with key {key!r} not found")
        if found.body["trigger"] != "api":
            fail(422, f"Achievement {key!r} is completed by its {found.body['trigger']} rule")
        try:
            config = await ingest.current_config.current(tenant, now)
            check_attribute_keys(config, tenant, "user", patch.attributes, now)
        except RuleViolation as exc:
            fail(422, str(exc))
        command = CompleteAchievement(new_command_id(), tenant, user_id, now, found.id, patch)
        outcome = settled(command, await ingest.submit(command))
        if isinstance(outcome, JSONResponse):
            return outcome
        if outcome.body.get("repeated"):
            first = await ingest.reader.completion_command(tenant, user_id, found.id)
            stored = Document(tenant, found.id, found.body, found.created, found.updated, None)
            current = achievement_from(stored, {a.id: a.key for a in config.attributes})
            states = await ingest.reader.user_states(tenant, [user_id])
            achieved = states[user_id].achievements.get(found.id)
            return JSONResponse(
                {
                    "completionId": str(first),
                    "achievement": {
                        **achievement_json(current, None),
                        "achievedAt": iso(achieved) if achieved else None,
                    },
                    "points": {},
                },
                status_code=200,
            )
        return JSONResponse(
            {
                "completionId": str(command.id),
                "achievement": outcome.body.get("achievement"),
                "points": outcome.body.get("points") or {},
            },
            status_code=201,
        )

    return router
