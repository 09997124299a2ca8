"""HTTP conventions shared by every router: the tenant header, JSON bodies, Trophy's errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, NoReturn

import orjson
from fastapi import Depends, HTTPException, Query, Request

from projections.core.text import nul_path

MAX_TENANT_LENGTH = 255


def fail(status: int, message: str) -> NoReturn:
    """Answer ``status`` with Trophy's error body ``{"error": message}``."""
    raise HTTPException(status_code=status, detail=message)


async def json_body(request: Request) -> Any:
    """The request body parsed as JSON, or a 400 naming the problem."""
    raw = await request.body()
    if not raw:
        fail(400, "request body is required (JSON)")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        fail(400, f"request body is not valid JSON: {exc}")
    if (where := nul_path(body, "body")) is not None:
        fail(422, f"{where} contains a NUL character (\\u0000), which cannot be stored")
    return body


def json_object(value: Any, where: str = "request body") -> dict[str, Any]:
    """``value`` if it is a JSON object, or a 422 naming ``where``."""
    if not isinstance(value, dict):
        fail(422, f"{where} must be a JSON object")
    return value


MAX_SKIP = 1_000_000_000


@dataclass(frozen=True)
class Page:
    """Trophy's list paging: ``limit`` 1-100 (default 10) and ``skip`` from 0."""

    limit: int
    skip: int


def page(
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    skip: Annotated[int, Query(ge=0, le=MAX_SKIP)] = 0,
) -> Page:
    """The ``limit`` and ``skip`` query parameters."""
    return Page(limit, skip)


Paging = Annotated[Page, Depends(page)]
