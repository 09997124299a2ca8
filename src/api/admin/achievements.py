"""The Admin API's achievements (Trophy's fields, as versioned documents) and Laurel's
``GET /admin/v1/achievements/{id}/backdating``: how far backdating an achievement got."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter

from api.admin.fields import (
    ItemContext,
    attribute_filters,
    badge,
    item_key,
    item_text,
    merge_update,
    metric_ref,
    number,
    optional_text,
    uuid_field,
    whole_number,
)
from api.admin.items import ItemError
from api.admin.resources import Resource, add_resource_routes, in_documents
from api.auth import Tenant
from api.requests import fail
from ingest.backdating import Backdating
from ingest.service import Ingest
from projections.store.documents import BackdateLog, StoredDocument

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
    item: Mapping[str, Any], ctx: ItemContext, self_id: uuid.UUID | None = None
) -> dict[str, Any]:
    """A create item validated into the stored achievement (Trophy's ``AdminAchievement``
    fields)."""
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
        "badge": badge(item),
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
            "metricValue": number(item, "metricValue", 1),
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
    item: Mapping[str, Any], current: StoredDocument, ctx: ItemContext
) -> dict[str, Any]:
    """The achievement's next version: the current one with the item's fields, validated again
    (status moves and trigger changes checked)."""
    merged = merge_update(current.body, item)
    if "trigger" in item and item["trigger"] != current.body["trigger"]:
        for name in TRIGGER_FIELDS:  # the old trigger's fields go unless the item sends them
            if name not in item:
                merged.pop(name, None)
    old, new = current.body["status"], merged.get("status") or current.body["status"]
    if old != new and (old, new) not in _ACHIEVEMENT_MOVES:
        raise ItemError(f"status cannot move from {old} to {new}")
    if merged.get("key") != current.body.get("key"):
        raise ItemError("key cannot change")
    return achievement_body(merged, ctx, current.id)


def achievement_json(doc: StoredDocument, ctx: ItemContext) -> dict[str, Any]:
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


ACHIEVEMENTS = Resource(
    "achievement",
    "/achievements",
    "achievements",
    "Achievement",
    in_documents("achievement"),
    achievement_body,
    achievement_update,
    achievement_json,
)


def build_router(ingest: Ingest) -> APIRouter:
    """Achievements CRUD, backdating each version that becomes active, and the backdating
    progress."""
    router = APIRouter()
    backdates = BackdateLog(ingest.config.pool)
    backdating = Backdating(ingest, backdates)
    add_resource_routes(router, ingest, ACHIEVEMENTS, backdating.after_write)

    @router.get("/achievements/{id}/backdating", tags=["achievements"])
    async def backdating_progress(id: uuid.UUID, tenant: Tenant) -> Any:
        """Laurel's addition: how far backdating of the achievement's latest version got."""
        found = await backdates.latest(tenant, id)
        if found is None:
            fail(404, f"Achievement {id} has not been backdated")
        return {"queuedUsers": found.queued, "finished": found.finished is not None}

    return router
