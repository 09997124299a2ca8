"""Achievement completions through the API, and the admin API for achievements and points.

``POST /v1/achievements/{key}/complete`` appends a command and waits for its outcome, like a
metric event. Activating an achievement (or editing an active one) backdates it: every existing
user gets a command, through the user-keyed topic, that completes it silently if they already
qualify; ``GET /admin/v1/achievements/{id}/backdating`` shows how far that got.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ingest.contract import ContractError, decode_user_patch, new_command_id
from ingest.documents import ACHIEVEMENTS, SCOPED, SYSTEMS, add_document_routes
from ingest.leaderboards import LEADERBOARDS
from ingest.routes import rejected
from ingest.service import Ingest
from projections.core.commands import CompleteAchievement
from projections.core.validation import RuleViolation, check_attribute_keys
from projections.core.wire import Document, achievement_from, achievement_json
from projections.query import schemas
from projections.query.auth import CurrentPrincipal, Tenant
from projections.query.http import fail, json_body, json_object
from projections.query.shapes import iso, pending_json
from projections.store.documents import BackdateLog, DocumentStore, StoredDocument

log = logging.getLogger(__name__)
BACKDATE_CHUNK = 1000


def build_router(ingest: Ingest) -> APIRouter:
    router = APIRouter()
    docs = DocumentStore(ingest.config.pool)

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
        outcome = await ingest.submit(command)
        if outcome is None:
            return JSONResponse(pending_json(str(command.id), command.type), status_code=202)
        if outcome.status == "rejected":
            return rejected(outcome)
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


class Backdating:
    """Runs backdates in the background of the api process, one task per achievement version."""

    def __init__(self, ingest: Ingest, log_: BackdateLog) -> None:
        self.ingest = ingest
        self.log = log_
        self._tasks: set[asyncio.Task[None]] = set()

    async def after_write(
        self, tenant: str, before: StoredDocument | None, after: StoredDocument
    ) -> None:
        if after.body.get("status") != "active":
            return
        if before is not None and before.body == after.body:
            return
        await self.log.start(tenant, after.id, after.updated)
        task = asyncio.create_task(self._run(tenant, after))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, tenant: str, doc: StoredDocument) -> None:
        queued, after = 0, ""
        try:
            while True:
                users = await self.ingest.reader.user_ids(tenant, after, BACKDATE_CHUNK)
                if not users:
                    break
                now = self.ingest.clock()
                await self.ingest.publisher.publish_many(
                    [
                        CompleteAchievement(new_command_id(), tenant, u, now, doc.id, backdate=True)
                        for u in users
                    ]
                )
                queued += len(users)
                after = users[-1]
                await self.log.progress(tenant, doc.id, doc.updated, queued, False)
            await self.log.progress(tenant, doc.id, doc.updated, queued, True)
        except Exception:
            log.exception("backdating achievement %s stopped after %d users", doc.id, queued)


def build_admin_router(ingest: Ingest) -> APIRouter:
    router = APIRouter()
    docs = DocumentStore(ingest.config.pool)
    backdates = BackdateLog(ingest.config.pool)
    backdating = Backdating(ingest, backdates)
    add_document_routes(router, ingest, docs, ACHIEVEMENTS, backdating.after_write)

    @router.get("/achievements/{id}/backdating", tags=["achievements"])
    async def backdating_progress(id: uuid.UUID, tenant: Tenant) -> Any:
        """Laurel's addition: how far backdating of the achievement's latest version got."""
        found = await backdates.latest(tenant, id)
        if found is None:
            fail(404, f"Achievement {id} has not been backdated")
        return {"queuedUsers": found.queued, "finished": found.finished is not None}

    add_document_routes(router, ingest, docs, SYSTEMS)
    add_document_routes(router, ingest, docs, LEADERBOARDS)
    for kind in SCOPED:
        add_document_routes(router, ingest, docs, kind)
    return router
