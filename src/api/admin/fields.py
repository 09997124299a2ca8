"""Validators of the fields of admin items, and what they may look up (:class:`ItemContext`). Each
raises :class:`~api.admin.items.ItemError` naming the field."""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from api.admin.items import ItemError
from projections.core.model import AttributeType, ConfigHistory

KEY_PATTERN = re.compile(r"^[a-zA-Z\d\-_]+$")
MAX_NAME = 255
MAX_DESCRIPTION = 2000
LARGEST = 1e15


@dataclass(frozen=True)
class ItemContext:
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


def item_text(item: Mapping[str, Any], name: str) -> str:
    """A required, non-empty string field of an admin item, at most 255 characters."""
    value = item.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME:
        raise ItemError(f"{name} must be a non-empty string of at most {MAX_NAME} characters")
    return value


def item_key(item: Mapping[str, Any]) -> str:
    """A key of letters, digits, ``-`` and ``_``."""
    key = item_text(item, "key")
    if not KEY_PATTERN.match(key):
        raise ItemError("key may contain only letters, digits, '-' and '_'")
    return key


def item_id(item: dict[str, Any]) -> uuid.UUID:
    """The item's ``id`` as a UUID."""
    try:
        return uuid.UUID(str(item.get("id")))
    except ValueError:
        raise ItemError("id must be a UUID") from None


def optional_text(item: Mapping[str, Any], name: str, most: int = MAX_DESCRIPTION) -> str | None:
    """A string of at most ``most`` characters, or ``None``."""
    value = item.get(name)
    if value is not None and (not isinstance(value, str) or len(value) > most):
        raise ItemError(f"{name} must be a string of at most {most} characters or null")
    return value


def badge(item: Mapping[str, Any]) -> dict[str, str] | None:
    """Trophy's ``{url}`` badge, or ``None``."""
    badge = item.get("badge")
    if badge is None:
        return None
    if not isinstance(badge, dict) or not isinstance(badge.get("url"), str) or not badge["url"]:
        raise ItemError("badge must be an object with a url, or null")
    return {"url": badge["url"]}


def whole_number(item: Mapping[str, Any], name: str, least: int, most: int = 10**12) -> int:
    """An integer from ``least`` to ``most``."""
    value = item.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ItemError(f"{name} must be a whole number of at least {least}")
    if value > most:
        raise ItemError(f"{name} must be at most {most:,}")
    return value


def number(item: Mapping[str, Any], name: str, least: float) -> float:
    """A finite number of at least ``least`` (and at most 10^15 in size)."""
    value = item.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ItemError(f"{name} must be a number")
    if not -LARGEST <= value <= LARGEST or not math.isfinite(value):
        raise ItemError(f"{name} must be a number of at most {LARGEST:g}")
    if value < least:
        raise ItemError(f"{name} must be at least {least:g}")
    return float(value)


def uuid_field(item: Mapping[str, Any], name: str) -> uuid.UUID:
    """Field ``name`` as a UUID."""
    try:
        return uuid.UUID(str(item.get(name)))
    except ValueError:
        raise ItemError(f"{name} must be a UUID") from None


def metric_ref(item: Mapping[str, Any], ctx: ItemContext) -> str:
    """The ``metricId`` of a metric the tenant has now."""
    metric_id = uuid_field(item, "metricId")
    if not any(
        m.id == metric_id and m.tenant == ctx.tenant and m.holds_at(ctx.now)
        for m in ctx.config.metrics
    ):
        raise ItemError(f"Metric {metric_id} not found")
    return str(metric_id)


def attribute_filters(
    item: Mapping[str, Any], name: str, kind: AttributeType, ctx: ItemContext
) -> list[Any]:
    """``[{attributeId, attributeValue}]`` naming current attributes of ``kind``."""
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


def merge_keeping_key(current: Mapping[str, Any], item: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`merge_update` for a resource whose key is fixed once created."""
    if "key" in item and item["key"] != current.get("key"):
        raise ItemError("key cannot change")
    return merge_update(current, item)


def date_field(item: Mapping[str, Any], name: str) -> str:
    """A ``YYYY-MM-DD`` date, kept as text."""
    value = item.get(name)
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise ItemError(f"{name} must be a YYYY-MM-DD date") from None
