"""The Admin API's streaks: the streak settings, and freeze grants, pauses, restores and resets.

Freeze grants, pauses, restores and resets change user state, so each travels as a command
through the user-keyed topic and the answer waits for the processor's outcome. Streak settings
are configuration: a new version is written to ``laurel.streak_settings``.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from api import schemas
from api.admin.items import ItemError, for_each_item, issue, parse_ids, parse_items
from api.auth import Tenant
from api.requests import fail, json_body, json_object
from ingest.contract import ChangeStreak, ContractError
from ingest.fields import days_off, local_day, streak_metrics
from ingest.ids import new_command_id
from ingest.service import Ingest
from projections.core.commands import StreakAction
from projections.core.periods import FREQUENCIES
from projections.core.streaks import MAX_FREEZES, FreezePolicy, StreakSettings
from projections.core.validation import RuleViolation, check_streak_metrics
from projections.store.codecs import settings_json
from projections.store.reads import StoredOutcome


def _count(raw: Any, name: str, least: int) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not least <= raw <= MAX_FREEZES:
        raise ContractError(f"freezes.{name} must be an integer from {least} to {MAX_FREEZES}")
    return raw


def _freeze_policy(raw: Any) -> FreezePolicy | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ContractError("freezes must be an object or null")
    start = _count(raw.get("startCount"), "startCount", 0)
    most = _count(raw.get("maxCount"), "maxCount", 0)
    if start > most:
        raise ContractError("freezes.maxCount must be at least freezes.startCount")
    interval, amount = raw.get("autoEarnInterval"), raw.get("autoEarnAmount")
    if (interval is None) != (amount is None):
        raise ContractError("freezes.autoEarnInterval and autoEarnAmount are set together")
    if interval is not None:
        if isinstance(interval, bool) or not isinstance(interval, int) or not 1 <= interval <= 3660:
            raise ContractError(
                "freezes.autoEarnInterval must be a whole number of days, 1 to 3660"
            )
        amount = _count(amount, "autoEarnAmount", 1)
    return FreezePolicy(start, most, interval, amount)


def updated_settings(current: StreakSettings, body: dict[str, Any]) -> StreakSettings:  # noqa: C901 (one flat check per field)
    """``current`` with the fields of a PATCH body (metric keys are checked by the caller)."""
    known = set(settings_json(current))
    unknown = sorted(set(body) - known)
    if unknown:
        raise ContractError(f"unknown fields: {', '.join(unknown)}")
    changes: dict[str, Any] = {}
    if "frequency" in body:
        if body["frequency"] not in FREQUENCIES:
            raise ContractError("frequency must be daily, weekly or monthly")
        changes["frequency"] = body["frequency"]
    if "evaluationMode" in body:
        if body["evaluationMode"] not in ("AND", "OR"):
            raise ContractError("evaluationMode must be AND or OR")
        changes["evaluation_mode"] = body["evaluationMode"]
    if "customizationEnabled" in body:
        if not isinstance(body["customizationEnabled"], bool):
            raise ContractError("customizationEnabled must be a boolean")
        changes["customization_enabled"] = body["customizationEnabled"]
    if "metrics" in body:
        changes["metrics"] = streak_metrics(body["metrics"], "metrics")
    if "freezes" in body:
        changes["freezes"] = _freeze_policy(body["freezes"])
    if "weekStart" in body:
        start = body["weekStart"]
        if isinstance(start, bool) or not isinstance(start, int) or not 0 <= start <= 6:
            raise ContractError("weekStart must be a weekday from 0 (Sunday) to 6 (Saturday)")
        changes["week_start"] = start
    if "daysOff" in body:
        changes["days_off"] = days_off(body["daysOff"])
    settings = replace(current, **changes)
    if settings.frequency != "daily":
        if changes.get("days_off"):
            raise ContractError("daysOff can be set only when the frequency is daily")
        settings = replace(settings, days_off=frozenset())  # leaving daily clears days off
    return settings


def _request_items(body: Any, field: str) -> list[Any]:
    return parse_items(json_object(body).get(field))


def _user_id(item: dict[str, Any], field: str) -> str:
    value = item.get(field)
    if not isinstance(value, str) or not value.strip():
        raise ItemError(f"{field} must be a non-empty string")
    return value


def _outcome_issue(user_id: str, command_id: uuid.UUID, outcome: StoredOutcome | None) -> Any:
    """An issue for a command that did not apply (or is still pending), else ``None``."""
    if outcome is None:
        return issue(
            f"accepted but not yet applied; see /v1/events/{command_id}",
            user_id=user_id,
            severity="warning",
        )
    if outcome.status == "rejected":
        return issue(str(outcome.body.get("error")), user_id=user_id)
    return None


def build_router(ingest: Ingest) -> APIRouter:  # noqa: C901 (routes are closures, counted here)
    """The streak settings, and freeze grants, pauses, restores and resets."""
    router = APIRouter()

    @router.get(
        "/streaks/settings",
        tags=["streaks"],
        responses=schemas.returns(200, schemas.STREAK_SETTINGS),
    )
    async def get_settings(tenant: Tenant) -> Any:
        """The tenant's streak settings (Trophy's ``StreakSettings`` plus ``weekStart``)."""
        now = ingest.clock()
        return settings_json(
            (await ingest.current_config.current(tenant, now)).streak_at(tenant, now)
        )

    @router.patch(
        "/streaks/settings",
        tags=["streaks"],
        openapi_extra=schemas.body(schemas.STREAK_SETTINGS_UPDATE),
        responses=schemas.returns(200, schemas.STREAK_SETTINGS),
    )
    async def update_settings(request: Request, tenant: Tenant) -> Any:
        """Change the streak settings from now on (fields left out keep their values)."""
        body = json_object(await json_body(request))
        now = ingest.clock()
        config = await ingest.config.current(tenant, now)
        try:
            settings = updated_settings(config.streak_at(tenant, now), body)
            check_streak_metrics(config, tenant, settings.metrics, now)
        except (ContractError, RuleViolation) as exc:
            fail(422, str(exc))
        await ingest.config.save_streak_settings(tenant, settings, now)
        await ingest.current_config.forget(tenant)
        return settings_json(settings)

    async def apply(
        tenant: str, users: Sequence[tuple[str, StreakAction, dict[str, Any]]]
    ) -> tuple[list[str], list[StoredOutcome | None], list[uuid.UUID]]:
        now = ingest.clock()
        commands = [
            ChangeStreak(new_command_id(), tenant, user_id, now, action, **fields)
            for user_id, action, fields in users
        ]
        outcomes = await ingest.submit_many(commands)
        return [u for u, _, _ in users], outcomes, [c.id for c in commands]

    async def per_user(tenant: str, action: StreakAction, body: Any, field: str) -> Any:
        user_ids: list[str] = []

        async def collect(_: int, item: dict[str, Any]) -> None:
            user_ids.append(_user_id(item, "id" if field == "users" else "userId"))

        _, issues = await for_each_item(_request_items(body, field), collect)
        work: list[tuple[str, StreakAction, dict[str, Any]]]
        if action == "grant_freezes":
            work = [(u, action, {"count": n}) for u, n in Counter(user_ids).items()]
        else:
            work = [(u, action, {}) for u in dict.fromkeys(user_ids)]
        users, outcomes, ids = await apply(tenant, work)
        done = []
        for user_id, outcome, command_id in zip(users, outcomes, ids, strict=True):
            found = _outcome_issue(user_id, command_id, outcome)
            if found is None:
                done.append(user_id)
            else:
                issues.append(found)
        return done, issues

    @router.post(
        "/streaks/freezes",
        tags=["streaks"],
        openapi_extra=schemas.body(schemas.FREEZES_REQUEST),
        responses=schemas.returns(
            201, {"type": "object", "properties": {"issues": schemas.ISSUES}}
        ),
    )
    async def grant_freezes(request: Request, tenant: Tenant) -> Any:
        """Grant one freeze per item (repeat a user to grant several), up to the maximum."""
        done, issues = await per_user(tenant, "grant_freezes", await json_body(request), "freezes")
        return JSONResponse({"issues": issues}, status_code=201 if done else 200)

    @router.post(
        "/streaks/restore",
        tags=["streaks"],
        openapi_extra=schemas.body(schemas.USERS_REQUEST),
        responses=schemas.returns(201, {"type": "object", "required": ["restoredUsers", "issues"]}),
    )
    async def restore(request: Request, tenant: Tenant) -> Any:
        """Restore each user's longest streak that ended inside the restore window."""
        done, issues = await per_user(tenant, "restore", await json_body(request), "users")
        return JSONResponse(
            {"restoredUsers": done, "issues": issues}, status_code=201 if done else 200
        )

    @router.post(
        "/streaks/reset",
        tags=["streaks"],
        openapi_extra=schemas.body(schemas.USERS_REQUEST),
        responses=schemas.returns(200, {"type": "object", "required": ["resetUsers", "issues"]}),
    )
    async def reset(request: Request, tenant: Tenant) -> Any:
        """Set each user's streak to zero (a later restore can bring it back)."""
        done, issues = await per_user(tenant, "reset", await json_body(request), "users")
        return {"resetUsers": done, "issues": issues}

    @router.post(
        "/streaks/pauses",
        tags=["streaks"],
        openapi_extra=schemas.body(schemas.PAUSES_REQUEST),
        responses=schemas.returns(201, {"type": "object", "required": ["created", "issues"]}),
    )
    async def create_pauses(request: Request, tenant: Tenant) -> Any:
        """Pause streaks over local date ranges; a start may not lie in the user's past."""
        wanted: list[tuple[int, str, date, date, uuid.UUID]] = []

        async def collect(index: int, item: dict[str, Any]) -> None:
            user_id = _user_id(item, "userId")
            try:
                start, end = (
                    local_day(item.get("start"), "start"),
                    local_day(item.get("end"), "end"),
                )
            except ContractError as exc:
                raise ItemError(str(exc)) from None
            if end < start:
                raise ItemError("end must be on or after start")
            wanted.append((index, user_id, start, end, uuid.uuid4()))

        items = _request_items(await json_body(request), "pauses")
        _, issues = await for_each_item(items, collect)
        work: list[tuple[str, StreakAction, dict[str, Any]]] = [
            (user_id, "add_pause", {"pause_id": pid, "start": start, "end": end})
            for _, user_id, start, end, pid in wanted
        ]
        _, outcomes, ids = await apply(tenant, work)
        created = []
        for (index, user_id, start, end, pid), outcome, command_id in zip(
            wanted, outcomes, ids, strict=True
        ):
            found = _outcome_issue(user_id, command_id, outcome)
            if found is not None:
                issues.append({**found, "index": index})
                continue
            created.append(
                {
                    "id": str(pid),
                    "userId": user_id,
                    "start": start.isoformat(),
                    "end": end.isoformat(),
                    "status": "active",
                }
            )
        return JSONResponse(
            {"created": created, "issues": issues}, status_code=201 if created else 200
        )

    @router.delete("/streaks/pauses", tags=["streaks"])
    async def delete_pauses(
        tenant: Tenant, ids: Annotated[list[str] | None, Query()] = None
    ) -> Any:
        """Delete (archive) pauses; periods they already covered keep ``usedPause``."""
        issues: list[dict[str, Any]] = []
        pause_ids: list[uuid.UUID] = []
        for raw in parse_ids(ids):
            try:
                pause_ids.append(uuid.UUID(raw))
            except ValueError:
                issues.append(issue(f"{raw!r} is not a UUID", id=raw))
        found = await ingest.reader.pauses(tenant, pause_ids)
        work: list[tuple[str, StreakAction, dict[str, Any]]] = []
        targets: list[uuid.UUID] = []
        for pid in dict.fromkeys(pause_ids):
            stored = found.get(pid)
            if stored is None or stored.status != "active":
                issues.append(issue(f"Streak pause {pid} not found", id=str(pid)))
                continue
            work.append((stored.user_id, "remove_pause", {"pause_id": pid}))
            targets.append(pid)
        users, outcomes, command_ids = await apply(tenant, work)
        deleted = []
        for pid, user_id, outcome, command_id in zip(
            targets, users, outcomes, command_ids, strict=True
        ):
            problem = _outcome_issue(user_id, command_id, outcome)
            if problem is None:
                deleted.append({"id": str(pid)})
            else:
                issues.append({**problem, "id": str(pid)})
        return {"deleted": deleted, "issues": issues}

    return router
