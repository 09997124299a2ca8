"""Admin API: metrics and attributes (configuration) and batch metric events.

Both configuration resources follow Trophy's admin conventions: arrays of at most 100 items
per create, update or delete, per-item ``issues``, ``limit``/``skip`` paging on lists.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from api import schemas
from api.auth import Tenant
from api.requests import Paging, fail, json_body
from ingest.contract import ContractError, RecordMetricEvent
from ingest.fields import decode_user_patch, parse_value, string_map
from ingest.ids import new_command_id
from ingest.service import Ingest
from projections.core.validation import RuleViolation, check_metric_event
from projections.store.config import AttributeRow, ConfigTable, DuplicateKey, MetricRow

KEY_PATTERN = re.compile(r"^[a-zA-Z\d\-_]+$")
MAX_ITEMS = 100
MAX_BATCH_EVENTS = 1000
MAX_NAME = 255
CURRENCY = re.compile(r"^[A-Z]{3}$")


class ItemError(ValueError):
    """One item of an admin array is invalid; reported as an issue, not a failed request."""


def issue(
    message: str,
    *,
    index: int | None = None,
    id: str | None = None,
    user_id: str | None = None,
    severity: str = "error",
) -> dict[str, Any]:
    """Trophy's ``AdminIssue``; one about a user also carries ``level`` and ``reason``, the
    same words under the names of the older ``BulkInsertIssue``, which Trophy's Node SDK
    (1.0.42) requires in the answers to streak freezes and restores."""
    found: dict[str, Any] = {"severity": severity, "message": message}
    if index is not None:
        found["index"] = index
    if id is not None:
        found["id"] = id
    if user_id is not None:
        found |= {"userId": user_id, "level": severity, "reason": message}
    return found


def item_text(item: Mapping[str, Any], name: str) -> str:
    """A required, non-empty string field of an admin item, at most 255 characters."""
    value = item.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME:
        raise ItemError(f"{name} must be a non-empty string of at most {MAX_NAME} characters")
    return value


def item_key(item: Mapping[str, Any]) -> str:
    key = item_text(item, "key")
    if not KEY_PATTERN.match(key):
        raise ItemError("key may contain only letters, digits, '-' and '_'")
    return key


def _metric_units(unit_type: Any, units: Any) -> tuple[str, str | None]:
    if unit_type not in ("number", "currency"):
        raise ItemError("unitType must be 'number' or 'currency'")
    if units is not None and (not isinstance(units, str) or len(units) > MAX_NAME):
        raise ItemError(f"units must be a string of at most {MAX_NAME} characters")
    if unit_type == "currency" and (units is None or not CURRENCY.match(units)):
        raise ItemError("units must be an ISO 4217 currency code (e.g. USD) for currency metrics")
    return unit_type, units


def item_id(item: dict[str, Any]) -> uuid.UUID:
    try:
        return uuid.UUID(str(item.get("id")))
    except ValueError:
        raise ItemError("id must be a UUID") from None


@dataclass(frozen=True)
class Resource:
    """How one configuration table is read from requests and written to responses."""

    table: ConfigTable
    singular: str
    parse_create: Callable[[dict[str, Any], Any], Any]
    parse_update: Callable[[dict[str, Any], Any], dict[str, Any]]
    to_json: Callable[[Any], dict[str, Any]]
    create_schema: schemas.Schema
    update_schema: schemas.Schema


def _metric_create(item: dict[str, Any], now: Any) -> MetricRow:
    unit_type, units = _metric_units(item.get("unitType", "number"), item.get("units"))
    name = item_text(item, "name")
    return MetricRow(uuid.uuid4(), item_key(item), name, unit_type, units, now)


def _metric_update(item: dict[str, Any], current: MetricRow) -> dict[str, Any]:
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


def _metric_json(row: MetricRow) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "name": row.name,
        "key": row.key,
        "unitType": row.unit_type,
        "units": row.units or "",
    }


def _attribute_create(item: dict[str, Any], now: Any) -> AttributeRow:
    kind = item.get("type")
    if kind not in ("user", "event"):
        raise ItemError("type must be 'user' or 'event'")
    name = item_text(item, "name")
    return AttributeRow(uuid.uuid4(), item_key(item), name, kind, now)


def _attribute_update(item: dict[str, Any], current: AttributeRow) -> dict[str, Any]:
    if ("key" in item and item["key"] != current.key) or (
        "type" in item and item["type"] != current.type
    ):
        raise ItemError("only name can change: key and type are fixed")
    return {"name": item_text(item, "name")} if "name" in item else {}


def _attribute_json(row: AttributeRow) -> dict[str, Any]:
    return {"id": str(row.id), "name": row.name, "key": row.key, "type": row.type}


RESOURCES = (
    Resource(
        "metrics",
        "Metric",
        _metric_create,
        _metric_update,
        _metric_json,
        schemas.CREATE_METRICS,
        schemas.UPDATE_METRICS,
    ),
    Resource(
        "attributes",
        "Attribute",
        _attribute_create,
        _attribute_update,
        _attribute_json,
        schemas.CREATE_ATTRIBUTES,
        schemas.UPDATE_ATTRIBUTES,
    ),
)


def parse_items(raw: Any, limit: int = MAX_ITEMS) -> list[Any]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= limit:
        fail(422, f"request body must be an array of 1 to {limit} items")
    return raw


def parse_ids(ids: list[str] | None) -> list[str]:
    flat = [part.strip() for value in ids or [] for part in value.split(",") if part.strip()]
    if not 1 <= len(flat) <= MAX_ITEMS:
        fail(422, f"ids must name 1 to {MAX_ITEMS} ids")
    return flat


async def for_each_item(
    items: list[Any], act: Callable[[int, dict[str, Any]], Awaitable[dict[str, Any] | None]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    done: list[dict[str, Any]] = []
    issues: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise ItemError("item must be a JSON object")
            result = await act(index, item)
        except ItemError as exc:
            issues.append(issue(str(exc), index=index))
            continue
        if result is not None:
            done.append(result)
    return done, issues


def created_response(created: list[dict[str, Any]], issues: list[dict[str, Any]]) -> JSONResponse:
    """Trophy's create answer: 201 when anything was created, 200 when every item had issues."""
    return JSONResponse({"created": created, "issues": issues}, status_code=201 if created else 200)


async def delete_each(
    ids: list[str] | None, remove: Callable[[uuid.UUID], Awaitable[bool]], noun: str
) -> dict[str, Any]:
    """Trophy's delete answer for ``?ids=``: what ``remove`` found, and an issue for the rest."""
    deleted, issues = [], []
    for raw in parse_ids(ids):
        try:
            row_id = uuid.UUID(raw)
        except ValueError:
            issues.append(issue(f"{raw!r} is not a UUID", id=raw))
            continue
        if await remove(row_id):
            deleted.append({"id": str(row_id)})
        else:
            issues.append(issue(f"{noun} {row_id} not found", id=raw))
    return {"deleted": deleted, "issues": issues}


def add_config_routes(router: APIRouter, ingest: Ingest, res: Resource) -> None:
    store = ingest.config
    path = f"/{res.table}"

    @router.get(path, tags=[res.table], name=f"list_{res.table}")
    async def list_(tenant: Tenant, paging: Paging) -> Any:
        rows = await store.page(res.table, tenant, paging.limit, paging.skip)
        return [res.to_json(r) for r in rows]

    @router.get(path + "/{id}", tags=[res.table], name=f"get_{res.table}")
    async def get(id: uuid.UUID, tenant: Tenant) -> Any:
        row = await store.get(res.table, tenant, id)
        if row is None:
            fail(404, f"{res.singular} {id} not found")
        return res.to_json(row)

    @router.post(
        path,
        tags=[res.table],
        name=f"create_{res.table}",
        openapi_extra=schemas.body(res.create_schema),
    )
    async def create(request: Request, tenant: Tenant) -> Any:
        now = ingest.clock()

        async def act(index: int, item: dict[str, Any]) -> dict[str, Any]:
            row = res.parse_create(item, now)
            try:
                await store.insert(res.table, tenant, row, now)
            except DuplicateKey:
                raise ItemError(f"key {row.key!r} is already in use") from None
            return res.to_json(row)

        created, issues = await for_each_item(parse_items(await json_body(request)), act)
        await ingest.current_config.forget(tenant)
        return created_response(created, issues)

    @router.patch(
        path,
        tags=[res.table],
        name=f"update_{res.table}",
        openapi_extra=schemas.body(res.update_schema),
    )
    async def update(request: Request, tenant: Tenant) -> Any:
        now = ingest.clock()

        async def act(index: int, item: dict[str, Any]) -> dict[str, Any]:
            row_id = item_id(item)
            current = await store.get(res.table, tenant, row_id)
            if current is None:
                raise ItemError(f"{res.singular} {row_id} not found")
            changes = res.parse_update(item, current)
            updated = await store.update(res.table, tenant, row_id, changes, now)
            if updated is None:
                raise ItemError(f"{res.singular} {row_id} not found")
            return res.to_json(updated)

        updated, issues = await for_each_item(parse_items(await json_body(request)), act)
        await ingest.current_config.forget(tenant)
        return {"updated": updated, "issues": issues}

    @router.delete(path, tags=[res.table], name=f"delete_{res.table}")
    async def delete(tenant: Tenant, ids: Annotated[list[str] | None, Query()] = None) -> Any:
        now = ingest.clock()

        async def remove(row_id: uuid.UUID) -> bool:
            return await store.delete(res.table, tenant, row_id, now)

        answer = await delete_each(ids, remove, res.singular)
        await ingest.current_config.forget(tenant)
        return answer


def build_admin_router(ingest: Ingest) -> APIRouter:
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

    for resource in RESOURCES:
        add_config_routes(router, ingest, resource)
    return router
