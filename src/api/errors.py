"""Error mapping: every failure answers Trophy's ``{"error": "..."}`` naming the problem."""

from __future__ import annotations

import logging
from typing import Any

from aiokafka.errors import KafkaError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from projections.store.connections import DATABASE_UNAVAILABLE

log = logging.getLogger("laurel.api")


def _describe(error: dict[str, Any]) -> str:
    where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path"))
    return f"{where}: {error.get('msg')}" if where else str(error.get("msg"))


def install_error_handlers(app: FastAPI) -> None:
    """Every error answers Trophy's ``{"error": "..."}`` naming the problem."""

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(
            {"error": str(exc.detail)},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            {"error": "; ".join(_describe(e) for e in exc.errors())}, status_code=422
        )

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("dependency unavailable on %s %s: %r", request.method, request.url.path, exc)
        return JSONResponse(
            {"error": f"temporarily unavailable ({type(exc).__name__}); retry shortly"},
            status_code=503,
            headers={"Retry-After": "1"},
        )

    for infrastructure in (KafkaError, *DATABASE_UNAVAILABLE):
        app.add_exception_handler(infrastructure, unavailable)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"error": "internal error"}, status_code=500)
