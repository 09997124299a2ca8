"""The Admin API's points systems and, under each, its triggers, levels and boosts (Trophy's
fields, as versioned documents). A points system's create items may hold its triggers, levels
and boosts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from fastapi import APIRouter

from api.admin.fields import (
    ItemContext,
    attribute_filters,
    badge,
    date_field,
    item_key,
    item_text,
    merge_keeping_key,
    merge_update,
    metric_ref,
    number,
    optional_text,
    uuid_field,
    whole_number,
)
from api.admin.items import ItemError
from api.admin.resources import Resource, add_resource_routes, in_documents
from ingest.service import Ingest
from projections.store.documents import StoredDocument

MAX_HOURS = 24 * 366 * 10  # a time trigger's interval: at most ten years

TRIGGER_TYPES = ("metric", "achievement", "streak", "time", "user_creation")


def system_body(item: Mapping[str, Any], ctx: ItemContext) -> dict[str, Any]:
    """A create item validated into a stored points system."""
    max_points = item.get("maxPoints")
    return {
        "name": item_text(item, "name"),
        "key": item_key(item),
        "description": optional_text(item, "description") or "",
        "badge": badge(item),
        "maxPoints": None if max_points is None else whole_number(item, "maxPoints", 1),
        "status": "active",
    }


def system_update(
    item: Mapping[str, Any], current: StoredDocument, ctx: ItemContext
) -> dict[str, Any]:
    """The points system's next version (its key is fixed)."""
    return system_body(merge_keeping_key(current.body, item), ctx)


def trigger_body(item: Mapping[str, Any], ctx: ItemContext) -> dict[str, Any]:  # noqa: C901 (one flat check per field)
    """A create item validated into a stored points trigger of the system in ``ctx``."""
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
            "metricThreshold": number(item, "metricThreshold", 1),
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


def trigger_update(
    item: Mapping[str, Any], current: StoredDocument, ctx: ItemContext
) -> dict[str, Any]:
    """The trigger's next version (its type changes only while inactive)."""
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


def trigger_json(doc: StoredDocument, ctx: ItemContext) -> dict[str, Any]:
    """Trophy's ``AdminPointsTrigger``."""
    body = {k: v for k, v in doc.body.items() if k != "systemId"}
    return {"id": str(doc.id), **body}


def level_body(item: Mapping[str, Any], ctx: ItemContext) -> dict[str, Any]:
    """A create item validated into a stored points level."""
    return {
        "systemId": str(ctx.system_id),
        "name": item_text(item, "name"),
        "key": item_key(item),
        "points": whole_number(item, "points", 0),
        "description": optional_text(item, "description") or "",
        "badge": badge(item),
    }


def level_update(
    item: Mapping[str, Any], current: StoredDocument, ctx: ItemContext
) -> dict[str, Any]:
    """The level's next version (its key is fixed)."""
    return level_body(merge_keeping_key(current.body, item), ctx)


def boost_body(item: Mapping[str, Any], ctx: ItemContext) -> dict[str, Any]:
    """A create item validated into a stored points boost (a user's, or a cohort's by
    attributes)."""
    user_id = item.get("userId")
    if user_id is not None and (not isinstance(user_id, str) or not user_id.strip()):
        raise ItemError("userId must be a non-empty string or null")
    if user_id is not None and item.get("userAttributes"):
        raise ItemError("userId and userAttributes cannot be used together")
    multiplier = number(item, "multiplier", 0)
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


def boost_update(
    item: Mapping[str, Any], current: StoredDocument, ctx: ItemContext
) -> dict[str, Any]:
    """The boost's next version (its user is fixed)."""
    if "userId" in item and item["userId"] != current.body.get("userId"):
        raise ItemError("userId cannot change")
    return boost_body(merge_update(current.body, item), ctx)


def boost_json(doc: StoredDocument, ctx: ItemContext) -> dict[str, Any]:
    """Trophy's ``AdminPointsBoost`` with its status today."""
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


def _plain(doc: StoredDocument, ctx: ItemContext) -> dict[str, Any]:
    return {"id": str(doc.id), **{k: v for k, v in doc.body.items() if k != "systemId"}}


TRIGGERS = Resource(
    "points_trigger",
    "/points/{system_id}/triggers",
    "points",
    "Points trigger",
    in_documents("points_trigger"),
    trigger_body,
    trigger_update,
    trigger_json,
    scoped=True,
)
LEVELS = Resource(
    "points_level",
    "/points/{system_id}/levels",
    "points",
    "Points level",
    in_documents("points_level"),
    level_body,
    level_update,
    _plain,
    scoped=True,
)
BOOSTS = Resource(
    "points_boost",
    "/points/{system_id}/boosts",
    "points",
    "Points boost",
    in_documents("points_boost"),
    boost_body,
    boost_update,
    boost_json,
    scoped=True,
)
SYSTEMS = Resource(
    "points_system",
    "/points",
    "points",
    "Points system",
    in_documents("points_system"),
    system_body,
    system_update,
    _plain,
    children=(("levels", LEVELS), ("boosts", BOOSTS), ("triggers", TRIGGERS)),
)


def build_router(ingest: Ingest) -> APIRouter:
    """Points systems CRUD, and under each its triggers, levels and boosts."""
    router = APIRouter()
    for resource in (SYSTEMS, TRIGGERS, LEVELS, BOOSTS):
        add_resource_routes(router, ingest, resource)
    return router
