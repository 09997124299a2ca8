"""Admin API for configuration documents: achievements and points systems with their
triggers, levels and boosts.

Each resource follows Trophy's admin conventions (arrays of at most 100 items, per-item
``issues``, ``limit``/``skip`` lists). Bodies are validated here into the admin API's JSON shape,
which is what ``laurel.documents`` stores and what the answers show.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from api import schemas
from api.admin.configuration import (
    ItemError,
    created_response,
    delete_each,
    for_each_item,
    item_id,
    item_key,
    item_text,
    parse_items,
)
from api.auth import Tenant
from api.requests import Paging, fail, json_body
from ingest.service import Ingest
from projections.core.model import AttributeType, ConfigHistory
from projections.store.config import DuplicateKey
from projections.store.documents import DocumentKind, DocumentStore, StoredDocument

MAX_DESCRIPTION = 2000
MAX_NESTED = 100
LARGEST = 1e15
MAX_HOURS = 24 * 366 * 10  # a time trigger's interval: at most ten years


@dataclass(frozen=True)
class Ctx:
    """What validation may look up: the tenant's configuration now, and the points system a
    scoped resource belongs to."""

    tenant: str
    now: datetime
    config: ConfigHistory
    system_id: uuid.UUID | None = None

    @property
    def achievement_ids(self) -> frozenset[uuid.UUID]:
        """The tenant's achievements (any status), for references to check against."""
        return frozenset(a.id for a in self.config.achievements_at(self.tenant, self.now))


# ---------------------------------------------------------------------------------------------
# Field validators


def optional_text(item: Mapping[str, Any], name: str, most: int = MAX_DESCRIPTION) -> str | None:
    value = item.get(name)
    if value is not None and (not isinstance(value, str) or len(value) > most):
        raise ItemError(f"{name} must be a string of at most {most} characters or null")
    return value


def _badge(item: Mapping[str, Any]) -> dict[str, str] | None:
    badge = item.get("badge")
    if badge is None:
        return None
    if not isinstance(badge, dict) or not isinstance(badge.get("url"), str) or not badge["url"]:
        raise ItemError("badge must be an object with a url, or null")
    return {"url": badge["url"]}


def whole_number(item: Mapping[str, Any], name: str, least: int, most: int = 10**12) -> int:
    value = item.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ItemError(f"{name} must be a whole number of at least {least}")
    if value > most:
        raise ItemError(f"{name} must be at most {most:,}")
    return value


def _number(item: Mapping[str, Any], name: str, least: float) -> float:
    value = item.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ItemError(f"{name} must be a number")
    if not -LARGEST <= value <= LARGEST or not math.isfinite(value):
        raise ItemError(f"{name} must be a number of at most {LARGEST:g}")
    if value < least:
        raise ItemError(f"{name} must be at least {least:g}")
    return float(value)


def uuid_field(item: Mapping[str, Any], name: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(item.get(name)))
    except ValueError:
        raise ItemError(f"{name} must be a UUID") from None


def metric_ref(item: Mapping[str, Any], ctx: Ctx) -> str:
    metric_id = uuid_field(item, "metricId")
    if not any(
        m.id == metric_id and m.tenant == ctx.tenant and m.holds_at(ctx.now)
        for m in ctx.config.metrics
    ):
        raise ItemError(f"Metric {metric_id} not found")
    return str(metric_id)


def attribute_filters(
    item: Mapping[str, Any], name: str, kind: AttributeType, ctx: Ctx
) -> list[Any]:
    raw = item.get(name)
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ItemError(f"{name} must be an array of {{attributeId, attributeValue}}")
    known = {
        a.id
        for a in ctx.config.attributes
        if a.tenant == ctx.tenant and a.type == kind and a.holds_at(ctx.now)
    }
    out = []
    for entry in raw:
        if not isinstance(entry, dict) or not isinstance(entry.get("attributeValue"), str):
            raise ItemError(f"{name} items must be {{attributeId, attributeValue: string}}")
        attribute_id = uuid_field(entry, "attributeId")
        if attribute_id not in known:
            raise ItemError(f"{name}: {attribute_id} is not an active {kind} attribute")
        out.append({"attributeId": str(attribute_id), "attributeValue": entry["attributeValue"]})
    return out


def merge_update(current: Mapping[str, Any], item: Mapping[str, Any]) -> dict[str, Any]:
    """An update: the current body with the fields the item sends (``id`` aside)."""
    return {**current, **{k: v for k, v in item.items() if k != "id"}}


# ---------------------------------------------------------------------------------------------
# Achievements

ACHIEVEMENT_TRIGGERS = ("metric", "streak", "api", "achievement", "anniversary")
ACHIEVEMENT_STATUSES = ("active", "inactive", "locked")
TRIGGER_FIELDS = (
    "metricId",
    "metricValue",
    "eventAttributes",
    "streakLength",
    "anniversaryYears",
    "achievementIds",
)
"""Achievement fields that belong to one trigger type."""
_ACHIEVEMENT_MOVES = {("inactive", "active"), ("active", "locked"), ("locked", "active")}


def achievement_body(
    item: Mapping[str, Any], ctx: Ctx, self_id: uuid.UUID | None = None
) -> dict[str, Any]:
    trigger = item.get("trigger")
    if trigger not in ACHIEVEMENT_TRIGGERS:
        raise ItemError(f"trigger must be one of {', '.join(ACHIEVEMENT_TRIGGERS)}")
    status = item.get("status") or "inactive"
    if status not in ACHIEVEMENT_STATUSES:
        raise ItemError("status must be active, inactive or locked")
    key = item_key(item) if item.get("key") is not None else None
    if trigger == "api" and key is None:
        raise ItemError("key is required for api achievements (they are completed by key)")
    body: dict[str, Any] = {
        "name": item_text(item, "name"),
        "trigger": trigger,
        "status": status,
        "key": key,
        "description": optional_text(item, "description"),
        "badge": _badge(item),
        "userAttributes": attribute_filters(item, "userAttributes", "user", ctx),
    }
    only = {
        "metric": ("metricId", "metricValue", "eventAttributes"),
        "streak": ("streakLength",),
        "anniversary": ("anniversaryYears",),
        "achievement": ("achievementIds",),
        "api": (),
    }[trigger]
    extra = [f for f in TRIGGER_FIELDS if item.get(f) is not None and f not in only]
    if extra:
        raise ItemError(f"{', '.join(extra)} not permitted for {trigger} achievements")
    if trigger == "metric":
        body |= {
            "metricId": metric_ref(item, ctx),
            "metricValue": _number(item, "metricValue", 1),
            "eventAttributes": attribute_filters(item, "eventAttributes", "event", ctx),
        }
    elif trigger == "streak":
        body["streakLength"] = whole_number(item, "streakLength", 1, 100_000)
    elif trigger == "anniversary":
        body["anniversaryYears"] = whole_number(item, "anniversaryYears", 1, 200)
    elif trigger == "achievement":
        raw = item.get("achievementIds")
        if not isinstance(raw, list) or not raw:
            raise ItemError("achievementIds must be a non-empty array of achievement ids")
        ids = [uuid_field({"id": r}, "id") for r in raw]
        unknown = [str(i) for i in ids if i not in ctx.achievement_ids or i == self_id]
        if unknown:
            raise ItemError(f"achievementIds: {', '.join(unknown)} not found")
        body["achievementIds"] = [str(i) for i in dict.fromkeys(ids)]
    return body


def achievement_update(
    item: Mapping[str, Any], current: StoredDocument, ctx: Ctx
) -> dict[str, Any]:
    merged = merge_update(current.body, item)
    if "trigger" in item and item["trigger"] != current.body["trigger"]:
        for f in TRIGGER_FIELDS:  # the old trigger's fields go unless the item sends them
            if f not in item:
                merged.pop(f, None)
    old, new = current.body["status"], merged.get("status") or current.body["status"]
    if old != new and (old, new) not in _ACHIEVEMENT_MOVES:
        raise ItemError(f"status cannot move from {old} to {new}")
    if merged.get("key") != current.body.get("key"):
        raise ItemError("key cannot change")
    return achievement_body(merged, ctx, current.id)


def achievement_json(doc: StoredDocument, ctx: Ctx) -> dict[str, Any]:
    """Trophy's ``AdminAchievement``: every field, null where the trigger does not use it."""
    body = {
        "metricId": None,
        "metricValue": None,
        "eventAttributes": None,
        "streakLength": None,
        "anniversaryYears": None,
        "achievementIds": None,
        **doc.body,
    }
    return {"id": str(doc.id), **body}


# ---------------------------------------------------------------------------------------------
# Points systems, triggers, levels, boosts

TRIGGER_TYPES = ("metric", "achievement", "streak", "time", "user_creation")


def system_body(item: Mapping[str, Any], ctx: Ctx) -> dict[str, Any]:
    max_points = item.get("maxPoints")
    return {
        "name": item_text(item, "name"),
        "key": item_key(item),
        "description": optional_text(item, "description") or "",
        "badge": _badge(item),
        "maxPoints": None if max_points is None else whole_number(item, "maxPoints", 1),
        "status": "active",
    }


def system_update(item: Mapping[str, Any], current: StoredDocument, ctx: Ctx) -> dict[str, Any]:
    if "key" in item and item["key"] != current.body["key"]:
        raise ItemError("key cannot change")
    return system_body(merge_update(current.body, item), ctx)


def trigger_body(item: Mapping[str, Any], ctx: Ctx) -> dict[str, Any]:
    kind = item.get("type")
    if kind not in TRIGGER_TYPES:
        raise ItemError(f"type must be one of {', '.join(TRIGGER_TYPES)}")
    points = item.get("points")
    if isinstance(points, bool) or not isinstance(points, int) or points == 0:
        raise ItemError("points must be a non-zero whole number (negative deducts)")
    if abs(points) > 1_000_000_000:
        raise ItemError("points must be between -1,000,000,000 and 1,000,000,000")
    status = item.get("status") or "inactive"
    if status not in ("active", "inactive"):
        raise ItemError("status must be active or inactive")
    block = item.get("blockIfOutOfPoints", False)
    if not isinstance(block, bool):
        raise ItemError("blockIfOutOfPoints must be a boolean")
    body: dict[str, Any] = {
        "systemId": str(ctx.system_id),
        "type": kind,
        "points": points,
        "status": status,
        "userAttributes": attribute_filters(item, "userAttributes", "user", ctx),
        "blockIfOutOfPoints": block,
        "metricId": None,
        "metricThreshold": None,
        "eventAttributes": None,
        "achievementId": None,
        "streakLength": None,
        "timeUnit": None,
        "timeInterval": None,
    }
    if kind == "metric":
        body |= {
            "metricId": metric_ref(item, ctx),
            "metricThreshold": _number(item, "metricThreshold", 1),
            "eventAttributes": attribute_filters(item, "eventAttributes", "event", ctx),
        }
    elif item.get("eventAttributes"):
        raise ItemError("eventAttributes are permitted only on metric triggers")
    if kind == "achievement":
        achievement_id = uuid_field(item, "achievementId")
        if achievement_id not in ctx.achievement_ids:
            raise ItemError(f"Achievement {achievement_id} not found")
        body["achievementId"] = str(achievement_id)
    elif kind == "streak":
        body["streakLength"] = whole_number(item, "streakLength", 1, 100_000)
    elif kind == "time":
        if item.get("timeUnit") not in ("hours", "days"):
            raise ItemError("timeUnit must be hours or days")
        hours = MAX_HOURS if item["timeUnit"] == "hours" else MAX_HOURS // 24
        body |= {
            "timeUnit": item["timeUnit"],
            "timeInterval": whole_number(item, "timeInterval", 1, hours),
        }
    return body


def trigger_update(item: Mapping[str, Any], current: StoredDocument, ctx: Ctx) -> dict[str, Any]:
    if (
        "type" in item
        and item["type"] != current.body["type"]
        and current.body["status"] != "inactive"
    ):
        raise ItemError("type can change only while the trigger is inactive")
    merged = merge_update(current.body, {k: v for k, v in item.items()})
    for name in ("userAttributes", "eventAttributes"):
        if name in item and item[name] is None:
            merged[name] = []
    return trigger_body(merged, ctx)


def trigger_json(doc: StoredDocument, ctx: Ctx) -> dict[str, Any]:
    body = {k: v for k, v in doc.body.items() if k != "systemId"}
    return {"id": str(doc.id), **body}


def level_body(item: Mapping[str, Any], ctx: Ctx) -> dict[str, Any]:
    return {
        "systemId": str(ctx.system_id),
        "name": item_text(item, "name"),
        "key": item_key(item),
        "points": whole_number(item, "points", 0),
        "description": optional_text(item, "description") or "",
        "badge": _badge(item),
    }


def level_update(item: Mapping[str, Any], current: StoredDocument, ctx: Ctx) -> dict[str, Any]:
    if "key" in item and item["key"] != current.body["key"]:
        raise ItemError("key cannot change")
    return level_body(merge_update(current.body, item), ctx)


def date_field(item: Mapping[str, Any], name: str) -> str:
    value = item.get(name)
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise ItemError(f"{name} must be a YYYY-MM-DD date") from None


def boost_body(item: Mapping[str, Any], ctx: Ctx) -> dict[str, Any]:
    user_id = item.get("userId")
    if user_id is not None and (not isinstance(user_id, str) or not user_id.strip()):
        raise ItemError("userId must be a non-empty string or null")
    if user_id is not None and item.get("userAttributes"):
        raise ItemError("userId and userAttributes cannot be used together")
    multiplier = _number(item, "multiplier", 0)
    if not 0 < multiplier < 100 or multiplier == 1:
        raise ItemError("multiplier must be greater than 0, less than 100 and not 1")
    rounding = item.get("rounding") or "down"
    if rounding not in ("down", "up", "nearest"):
        raise ItemError("rounding must be down, up or nearest")
    start = date_field(item, "start")
    end = date_field(item, "end") if item.get("end") is not None else None
    if end is not None and end < start:
        raise ItemError("end must be on or after start")
    return {
        "systemId": str(ctx.system_id),
        "name": item_text(item, "name"),
        "userId": user_id,
        "start": start,
        "end": end,
        "multiplier": multiplier,
        "rounding": rounding,
        "userAttributes": attribute_filters(item, "userAttributes", "user", ctx),
    }


def boost_update(item: Mapping[str, Any], current: StoredDocument, ctx: Ctx) -> dict[str, Any]:
    if "userId" in item and item["userId"] != current.body.get("userId"):
        raise ItemError("userId cannot change")
    return boost_body(merge_update(current.body, item), ctx)


def boost_json(doc: StoredDocument, ctx: Ctx) -> dict[str, Any]:
    start = date.fromisoformat(doc.body["start"])
    end = date.fromisoformat(doc.body["end"]) if doc.body.get("end") else None
    status = (
        "scheduled"
        if ctx.now.date() < start
        else "finished"
        if end and ctx.now.date() > end
        else "active"
    )
    body = {k: v for k, v in doc.body.items() if k != "systemId"}
    return {"id": str(doc.id), **body, "status": status}


def _plain(doc: StoredDocument, ctx: Ctx) -> dict[str, Any]:
    return {"id": str(doc.id), **{k: v for k, v in doc.body.items() if k != "systemId"}}


@dataclass(frozen=True)
class Kind:
    kind: DocumentKind
    path: str
    tag: str
    singular: str
    create: Callable[[Mapping[str, Any], Ctx], dict[str, Any]]
    update: Callable[[Mapping[str, Any], StoredDocument, Ctx], dict[str, Any]]
    to_json: Callable[[StoredDocument, Ctx], dict[str, Any]]
    create_schema: schemas.Schema = field(
        default_factory=lambda: schemas.array_of({"type": "object"})
    )
    update_schema: schemas.Schema = field(
        default_factory=lambda: schemas.array_of({"type": "object", "required": ["id"]})
    )
    scoped: bool = False
    children: tuple[tuple[str, Kind], ...] = ()
    """Resources created inside this one's create items (a points system's levels, …)."""


ACHIEVEMENTS = Kind(
    "achievement",
    "/achievements",
    "achievements",
    "Achievement",
    achievement_body,
    achievement_update,
    achievement_json,
)
SCOPED = (
    Kind(
        "points_trigger",
        "/points/{system_id}/triggers",
        "points",
        "Points trigger",
        trigger_body,
        trigger_update,
        trigger_json,
        scoped=True,
    ),
    Kind(
        "points_level",
        "/points/{system_id}/levels",
        "points",
        "Points level",
        level_body,
        level_update,
        _plain,
        scoped=True,
    ),
    Kind(
        "points_boost",
        "/points/{system_id}/boosts",
        "points",
        "Points boost",
        boost_body,
        boost_update,
        boost_json,
        scoped=True,
    ),
)
SYSTEMS = Kind(
    "points_system",
    "/points",
    "points",
    "Points system",
    system_body,
    system_update,
    _plain,
    children=(("levels", SCOPED[1]), ("boosts", SCOPED[2]), ("triggers", SCOPED[0])),
)


# ---------------------------------------------------------------------------------------------
# Routes

AfterWrite = Callable[[str, StoredDocument | None, StoredDocument], Awaitable[None]]
"""Called with (tenant, previous version, new version) after a document is written."""


def add_document_routes(
    router: APIRouter,
    ingest: Ingest,
    docs: DocumentStore,
    kind: Kind,
    after_write: AfterWrite | None = None,
) -> None:
    """List, get, create, update and delete for one kind of document."""

    async def context(tenant: str, system_id: uuid.UUID | None) -> Ctx:
        now = ingest.clock()
        config = await ingest.config.current(tenant, now)
        if kind.scoped and system_id not in config.points_at(tenant, now).systems:
            fail(404, f"Points system {system_id} not found")
        return Ctx(tenant, now, config, system_id)

    def scope_of(system_id: uuid.UUID | None) -> str:
        return str(system_id) if kind.scoped else ""

    async def written(tenant: str, before: StoredDocument | None, after: StoredDocument) -> None:
        await ingest.current_config.forget(tenant)
        if after_write is not None:
            await after_write(tenant, before, after)

    async def list_(tenant: str, paging: Any, system_id: uuid.UUID | None = None) -> Any:
        ctx = await context(tenant, system_id)
        rows = await docs.page(kind.kind, tenant, scope_of(system_id), paging.limit, paging.skip)
        return [kind.to_json(r, ctx) for r in rows]

    async def get(tenant: str, id: uuid.UUID, system_id: uuid.UUID | None = None) -> Any:
        ctx = await context(tenant, system_id)
        found = await docs.get(kind.kind, tenant, id, scope_of(system_id) if kind.scoped else None)
        if found is None:
            fail(404, f"{kind.singular} {id} not found")
        return kind.to_json(found, ctx)

    async def create(request: Request, tenant: str, system_id: uuid.UUID | None = None) -> Any:
        ctx = await context(tenant, system_id)

        async def act(index: int, item: dict[str, Any]) -> dict[str, Any]:
            body = kind.create(item, ctx)
            doc_id = uuid.uuid4()
            inner = replace(ctx, system_id=doc_id)
            nested: list[tuple[str, Kind, dict[str, Any]]] = []
            for name, child in kind.children:  # all validated before anything is written
                raw = item.get(name) or []
                if not isinstance(raw, list) or len(raw) > MAX_NESTED:
                    raise ItemError(f"{name} must be an array of at most {MAX_NESTED} items")
                for n, sub in enumerate(raw):
                    if not isinstance(sub, dict):
                        raise ItemError(f"{name}[{n}] must be an object")
                    try:
                        nested.append((name, child, child.create(sub, inner)))
                    except ItemError as exc:
                        raise ItemError(f"{name}[{n}]: {exc}") from None
            scope = scope_of(system_id)
            try:
                doc = await docs.insert(
                    kind.kind, tenant, doc_id, scope, body.get("key"), body, ctx.now
                )
            except DuplicateKey:
                raise ItemError(f"key {body.get('key')!r} is already in use") from None
            answer = kind.to_json(doc, ctx)
            for name, child, child_body in nested:
                key = child_body.get("key")
                try:
                    made = await docs.insert(
                        child.kind, tenant, uuid.uuid4(), str(doc_id), key, child_body, ctx.now
                    )
                except DuplicateKey:
                    raise ItemError(f"{name}: key {key!r} is repeated") from None
                answer.setdefault(name, []).append(child.to_json(made, inner))
            for name, _ in kind.children:
                answer.setdefault(name, [])
            await written(tenant, None, doc)
            return answer

        created, issues = await for_each_item(parse_items(await json_body(request)), act)
        return created_response(created, issues)

    async def update(request: Request, tenant: str, system_id: uuid.UUID | None = None) -> Any:
        ctx = await context(tenant, system_id)

        async def act(index: int, item: dict[str, Any]) -> dict[str, Any]:
            doc_id = item_id(item)
            current = await docs.get(
                kind.kind, tenant, doc_id, scope_of(system_id) if kind.scoped else None
            )
            if current is None:
                raise ItemError(f"{kind.singular} {doc_id} not found")
            body = kind.update(item, current, ctx)
            try:
                doc = await docs.replace(kind.kind, tenant, doc_id, body, ctx.now)
            except DuplicateKey:
                raise ItemError(f"key {body.get('key')!r} is already in use") from None
            if doc is None:
                raise ItemError(f"{kind.singular} {doc_id} not found")
            await written(tenant, current, doc)
            return kind.to_json(doc, ctx)

        updated, issues = await for_each_item(parse_items(await json_body(request)), act)
        return {"updated": updated, "issues": issues}

    async def delete(tenant: str, ids: list[str] | None, system_id: uuid.UUID | None = None) -> Any:
        ctx = await context(tenant, system_id)

        async def remove(doc_id: uuid.UUID) -> bool:
            scope = scope_of(system_id) if kind.scoped else None
            return await docs.delete(kind.kind, tenant, doc_id, ctx.now, scope)

        answer = await delete_each(ids, remove, kind.singular)
        await ingest.current_config.forget(tenant)
        return answer

    name = kind.kind
    extra_create = schemas.body(kind.create_schema)
    extra_update = schemas.body(kind.update_schema)
    if kind.scoped:

        @router.get(kind.path, tags=[kind.tag], name=f"list_{name}")
        async def scoped_list(system_id: uuid.UUID, tenant: Tenant, paging: Paging) -> Any:
            return await list_(tenant, paging, system_id)

        @router.get(kind.path + "/{id}", tags=[kind.tag], name=f"get_{name}")
        async def scoped_get(system_id: uuid.UUID, id: uuid.UUID, tenant: Tenant) -> Any:
            return await get(tenant, id, system_id)

        @router.post(kind.path, tags=[kind.tag], name=f"create_{name}", openapi_extra=extra_create)
        async def scoped_create(system_id: uuid.UUID, request: Request, tenant: Tenant) -> Any:
            return await create(request, tenant, system_id)

        @router.patch(kind.path, tags=[kind.tag], name=f"update_{name}", openapi_extra=extra_update)
        async def scoped_update(system_id: uuid.UUID, request: Request, tenant: Tenant) -> Any:
            return await update(request, tenant, system_id)

        @router.delete(kind.path, tags=[kind.tag], name=f"delete_{name}")
        async def scoped_delete(
            system_id: uuid.UUID, tenant: Tenant, ids: Annotated[list[str] | None, Query()] = None
        ) -> Any:
            return await delete(tenant, ids, system_id)

        return

    @router.get(kind.path, tags=[kind.tag], name=f"list_{name}")
    async def plain_list(tenant: Tenant, paging: Paging) -> Any:
        return await list_(tenant, paging)

    @router.get(kind.path + "/{id}", tags=[kind.tag], name=f"get_{name}")
    async def plain_get(id: uuid.UUID, tenant: Tenant) -> Any:
        return await get(tenant, id)

    @router.post(kind.path, tags=[kind.tag], name=f"create_{name}", openapi_extra=extra_create)
    async def plain_create(request: Request, tenant: Tenant) -> Any:
        return await create(request, tenant)

    @router.patch(kind.path, tags=[kind.tag], name=f"update_{name}", openapi_extra=extra_update)
    async def plain_update(request: Request, tenant: Tenant) -> Any:
        return await update(request, tenant)

    @router.delete(kind.path, tags=[kind.tag], name=f"delete_{name}")
    async def plain_delete(tenant: Tenant, ids: Annotated[list[str] | None, Query()] = None) -> Any:
        return await delete(tenant, ids)
