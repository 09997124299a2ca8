"""The Admin API's metrics and attributes (configuration tables) and batch metric events."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api import schemas
from api.admin.fields import MAX_NAME, ItemContext, item_key, item_text
from api.admin.items import ItemError, for_each_item, parse_items
from api.admin.resources import Resource, add_resource_routes, in_table
from api.auth import Tenant
from api.requests import json_body
from ingest.contract import ContractError, RecordMetricEvent
from ingest.fields import decode_user_patch, parse_value, string_map
from ingest.ids import new_command_id
from ingest.service import Ingest
from projections.core.validation import RuleViolation, check_metric_event
from projections.store.config import AttributeRow, MetricRow

MAX_BATCH_EVENTS = 1000
CURRENCY = re.compile(r"^[A-Z]{3}$")


def _metric_units(unit_type: Any, units: Any) -> tuple[str, str | None]:
    if unit_type not in ("number", "currency"):
        raise ItemError("unitType must be 'number' or 'currency'")
    if units is not None and (not isinstance(units, str) or len(units) > MAX_NAME):
        raise ItemError(f"units must be a string of at most {MAX_NAME} characters")
    if unit_type == "currency" and (units is None or not CURRENCY.match(units)):
        raise ItemError("units must be an ISO 4217 currency code (e.g. USD) for currency metrics")
    return unit_type, units


def _metric_create(item: Mapping[str, Any], ctx: ItemContext) -> dict[str, Any]:
    unit_type, units = _metric_units(item.get("unitType", "number"), item.get("units"))
    name = item_text(item, "name")
    return {"key": item_key(item), "name": name, "unit_type": unit_type, "units": units}


def _metric_update(item: Mapping[str, Any], current: MetricRow, ctx: ItemContext) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if "name" in item:
        changes["name"] = item_text(item, "name")
    if "key" in item and item["key"] != current.key:
        raise ItemError("key cannot change")
    if "unitType" in item or "units" in item:
        unit_type, units = _metric_units(
            item.get("unitType", current.unit_type), item.get("units", current.units)
        )
        changes |= {"unit_type": unit_type, "units": units}
    return changes


def _metric_json(row: MetricRow, ctx: ItemContext) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "name": row.name,
        "key": row.key,
        "unitType": row.unit_type,
        "units": row.units or "",
    }


def _attribute_create(item: Mapping[str, Any], ctx: ItemContext) -> dict[str, Any]:
    kind = item.get("type")
    if kind not in ("user", "event"):
        raise ItemError("type must be 'user' or 'event'")
    return {"key": item_key(item), "name": item_text(item, "name"), "type": kind}


def _attribute_update(
    item: Mapping[str, Any], current: AttributeRow, ctx: ItemContext
) -> dict[str, Any]:
    if ("key" in item and item["key"] != current.key) or (
        "type" in item and item["type"] != current.type
    ):
        raise ItemError("only name can change: key and type are fixed")
    return {"name": item_text(item, "name")} if "name" in item else {}


def _attribute_json(row: AttributeRow, ctx: ItemContext) -> dict[str, Any]:
    return {"id": str(row.id), "name": row.name, "key": row.key, "type": row.type}


METRICS = Resource(
    "metrics",
    "/metrics",
    "metrics",
    "Metric",
    in_table("metrics"),
    _metric_create,
    _metric_update,
    _metric_json,
    schemas.CREATE_METRICS,
    schemas.UPDATE_METRICS,
    uses_config=False,
)
ATTRIBUTES = Resource(
    "attributes",
    "/attributes",
    "attributes",
    "Attribute",
    in_table("attributes"),
    _attribute_create,
    _attribute_update,
    _attribute_json,
    schemas.CREATE_ATTRIBUTES,
    schemas.UPDATE_ATTRIBUTES,
    uses_config=False,
)


def build_router(ingest: Ingest) -> APIRouter:
    """Metrics and attributes CRUD, and batch metric events."""
    router = APIRouter()

    @router.post(
        "/metrics/events",
        tags=["metrics"],
        status_code=202,
        openapi_extra=schemas.body(schemas.BATCH_EVENTS),
    )
    async def batch_events(request: Request, tenant: Tenant) -> Any:
        """Accept 1 to 1,000 metric events for asynchronous processing; invalid items are
        reported in ``issues`` and the rest are accepted."""
        items = parse_items(await json_body(request), MAX_BATCH_EVENTS)
        now = ingest.clock()
        config = await ingest.current_config.current(tenant, now)
        commands: list[RecordMetricEvent] = []

        async def act(index: int, item: dict[str, Any]) -> None:
            try:
                key = item.get("key")
                if not isinstance(key, str):
                    raise ItemError("key must be a metric key")
                user_id, patch = decode_user_patch(item.get("user"))
                attributes = string_map(item.get("attributes"), "attributes")
                idem = item.get("idempotencyKey")
                if idem is not None and (not isinstance(idem, str) or not 0 < len(idem) <= 255):
                    raise ItemError("idempotencyKey must be a string of 1 to 255 characters")
                check_metric_event(config, tenant, key, attributes, patch.attributes, now)
                commands.append(
                    RecordMetricEvent(
                        id=new_command_id(),
                        tenant=tenant,
                        user_id=user_id,
                        received_at=now,
                        metric_key=key,
                        value=parse_value(item.get("value")),
                        attributes=attributes,
                        user=patch,
                        idempotency_key=idem,
                    )
                )
            except (ContractError, RuleViolation) as exc:
                raise ItemError(str(exc)) from None

        _, issues = await for_each_item(items, act)
        if not commands:
            return JSONResponse(
                {"error": "no event in the batch is valid", "issues": issues}, status_code=422
            )
        await ingest.publisher.publish_many(commands)
        return {"accepted": len(commands), "issues": issues}

    for resource in (METRICS, ATTRIBUTES):
        add_resource_routes(router, ingest, resource)
    return router
