"""Admin API for leaderboards: validation of Trophy's ``CreateLeaderboardRequestItem`` and
``UpdateLeaderboardRequestItem`` into the stored document (the ``AdminLeaderboard`` shape).

Past Trophy: ``maxParticipants`` may go up to 10,000,000 (``null``: no limit), and the
``userAttributes`` filters of the newest SDK decide who takes part.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, time
from typing import Any

from fastapi import APIRouter

from api.admin.fields import (
    ItemContext,
    attribute_filters,
    date_field,
    item_key,
    item_text,
    merge_update,
    metric_ref,
    optional_text,
    uuid_field,
    whole_number,
)
from api.admin.items import ItemError
from api.admin.resources import Resource, add_resource_routes, in_documents
from ingest.service import Ingest
from projections.store.documents import StoredDocument

MAX_PARTICIPANTS = 10_000_000
MAX_BREAKDOWNS = 5
RANK_BY = ("metric", "streak", "points")
STATUSES = ("inactive", "active", "scheduled", "finished")
RUN_UNITS = ("day", "month", "year")
CLOCK = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$")
FIXED_ONCE_ACTIVE = (
    "key",
    "rankBy",
    "metricId",
    "pointsSystemId",
    "breakdownAttributes",
    "runUnit",
    "runInterval",
    "start",
)
"""What decides which entries a board holds: editable only while the board is inactive."""


def _clock(item: Mapping[str, Any], name: str) -> str | None:
    value = item.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not CLOCK.match(value):
        raise ItemError(f"{name} must be a time of day as HH:mm or HH:mm:ss, or null")
    return value


def _capacity(item: Mapping[str, Any]) -> int | None:
    """1000 (Trophy's default) when absent; ``null``: no limit."""
    if "maxParticipants" not in item:
        return 1000
    if item["maxParticipants"] is None:
        return None
    return whole_number(item, "maxParticipants", 1, MAX_PARTICIPANTS)


def _breakdowns(item: Mapping[str, Any], ctx: ItemContext) -> list[str]:
    raw = item.get("breakdownAttributes")
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > MAX_BREAKDOWNS:
        raise ItemError(f"breakdownAttributes must be an array of at most {MAX_BREAKDOWNS} ids")
    known = {
        a.id
        for a in ctx.config.attributes
        if a.tenant == ctx.tenant and a.type == "user" and a.holds_at(ctx.now)
    }
    ids = [uuid_field({"id": r}, "id") for r in raw]
    unknown = [str(i) for i in ids if i not in known]
    if unknown:
        raise ItemError(
            f"breakdownAttributes: {', '.join(unknown)} is not an active user attribute"
        )
    return [str(i) for i in dict.fromkeys(ids)]


def leaderboard_body(item: Mapping[str, Any], ctx: ItemContext) -> dict[str, Any]:
    """A create item validated into the stored leaderboard (Trophy's fields, Laurel's limits)."""
    return _body(item, ctx, moving=True)


def _body(item: Mapping[str, Any], ctx: ItemContext, *, moving: bool) -> dict[str, Any]:  # noqa: C901 (one flat check per field)
    """The stored document; ``moving``: the status is being set, so its date rules apply (an
    edit that keeps an active board active on its start date is not a move)."""
    rank_by = item.get("rankBy")
    if rank_by not in RANK_BY:
        raise ItemError("rankBy must be one of metric, streak, points")
    status = item.get("status") or "inactive"
    if status not in STATUSES:
        raise ItemError(f"status must be one of {', '.join(STATUSES)}")
    today = ctx.now.date()
    start = date_field(item, "start") if item.get("start") is not None else today.isoformat()
    end = date_field(item, "end") if item.get("end") is not None else None
    if end is not None and end < start:
        raise ItemError("end must be on or after start")
    if moving and status == "active" and date.fromisoformat(start) > today:
        raise ItemError("a leaderboard with a future start cannot be active: schedule it")
    if moving and status == "scheduled" and date.fromisoformat(start) <= today:
        raise ItemError("only a leaderboard with a future start can be scheduled")
    if moving and status == "finished" and (end is None or date.fromisoformat(end) >= today):
        raise ItemError("only a leaderboard whose end is in the past can be finished")
    body: dict[str, Any] = {
        "name": item_text(item, "name"),
        "key": item_key(item),
        "description": optional_text(item, "description"),
        "status": status,
        "rankBy": rank_by,
        "metricId": None,
        "pointsSystemId": None,
        "maxParticipants": _capacity(item),
        "start": start,
        "end": end,
        "startTime": _clock(item, "startTime"),
        "endTime": _clock(item, "endTime"),
        "breakdownAttributes": _breakdowns(item, ctx),
        "runUnit": None,
        "runInterval": None,
        "userAttributes": attribute_filters(item, "userAttributes", "user", ctx),
    }
    if (
        body["startTime"]
        and body["endTime"]
        and (time.fromisoformat(body["startTime"]) == time.fromisoformat(body["endTime"]))
    ):
        raise ItemError("startTime and endTime cannot be equal (the window would be empty)")
    if rank_by == "metric":
        if item.get("pointsSystemId") is not None:
            raise ItemError("pointsSystemId is not permitted for metric leaderboards")
        body["metricId"] = metric_ref(item, ctx)
    elif rank_by == "points":
        if item.get("metricId") is not None:
            raise ItemError("metricId is not permitted for points leaderboards")
        system_id = uuid_field(item, "pointsSystemId")
        if system_id not in ctx.config.points_at(ctx.tenant, ctx.now).systems:
            raise ItemError(f"Points system {system_id} not found")
        body["pointsSystemId"] = str(system_id)
    elif item.get("metricId") is not None or item.get("pointsSystemId") is not None:
        raise ItemError("metricId and pointsSystemId are not permitted for streak leaderboards")
    unit = item.get("runUnit")
    if unit is not None:
        if rank_by == "streak":
            raise ItemError("streak leaderboards cannot repeat (runUnit must be null)")
        if unit not in RUN_UNITS:
            raise ItemError("runUnit must be day, month or year, or null")
        body["runUnit"] = unit
        body["runInterval"] = whole_number(item, "runInterval", 1, 1000)
    elif item.get("runInterval") is not None:
        raise ItemError("runInterval needs a runUnit")
    return body


def leaderboard_update(
    item: Mapping[str, Any], current: StoredDocument, ctx: ItemContext
) -> dict[str, Any]:
    """The leaderboard's next version; fields fixed once it left ``inactive`` stay fixed."""
    merged = merge_update(current.body, item)
    if "runUnit" in item and item["runUnit"] is None:
        merged.pop("runInterval", None)
    if item.get("rankBy", current.body["rankBy"]) != current.body["rankBy"]:
        for ref in ("metricId", "pointsSystemId"):  # the old dimension's, unless sent again
            if ref not in item:
                merged.pop(ref, None)
    if current.body["status"] != "inactive":
        changed = [f for f in FIXED_ONCE_ACTIVE if f in item and item[f] != current.body.get(f)]
        if changed:
            raise ItemError(
                f"{', '.join(changed)} can change only while the leaderboard is inactive"
            )
    return _body(merged, ctx, moving=merged.get("status") != current.body["status"])


def leaderboard_json(doc: StoredDocument, ctx: ItemContext) -> dict[str, Any]:
    """Trophy's ``AdminLeaderboard``."""
    return {"id": str(doc.id), **doc.body}


LEADERBOARDS = Resource(
    "leaderboard",
    "/leaderboards",
    "leaderboards",
    "Leaderboard",
    in_documents("leaderboard"),
    leaderboard_body,
    leaderboard_update,
    leaderboard_json,
)


def build_router(ingest: Ingest) -> APIRouter:
    """Leaderboards CRUD."""
    router = APIRouter()
    add_resource_routes(router, ingest, LEADERBOARDS)
    return router
