"""Trophy's admin conventions for arrays of items: at most 100 per request, each refused item
an ``issue`` while the others go through, ``ids=`` deletes, and the answers' shapes."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi.responses import JSONResponse

from api.requests import fail

MAX_ITEMS = 100


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


def parse_items(raw: Any, limit: int = MAX_ITEMS) -> list[Any]:
    """The request body as an array of 1 to ``limit`` items, or a 422."""
    if not isinstance(raw, list) or not 1 <= len(raw) <= limit:
        fail(422, f"request body must be an array of 1 to {limit} items")
    return raw


def parse_ids(ids: list[str] | None) -> list[str]:
    """The ``ids`` query parameter (repeated or comma-separated): 1 to 100 of them, or a 422."""
    flat = [part.strip() for value in ids or [] for part in value.split(",") if part.strip()]
    if not 1 <= len(flat) <= MAX_ITEMS:
        fail(422, f"ids must name 1 to {MAX_ITEMS} ids")
    return flat


async def for_each_item(
    items: list[Any], act: Callable[[int, dict[str, Any]], Awaitable[dict[str, Any] | None]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run ``act`` on each item; return what it produced and an issue for each item it refused."""
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
