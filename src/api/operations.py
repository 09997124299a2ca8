"""The operator's endpoints, served by every process: ``/metrics`` (Prometheus' text format),
``/health/live`` (the process runs its event loop) and ``/health/ready`` (what it depends on
answers). The api serves them beside its APIs; the processor, the ranker and the webhooks
process serve only these, on ``LAUREL_OPS_PORT``.

None needs a key: probes and scrapers carry none, and nothing here names a user, a tenant or a
secret."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence

import uvicorn
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

log = logging.getLogger("laurel.ops")

Check = Callable[[], Awaitable[str | None]]
"""One readiness check: ``None`` when what it checks is fine, else the problem in words."""

CHECK_TIMEOUT_S = 3.0


async def problems(checks: Sequence[Check]) -> list[str]:
    """The problems ``checks`` report, run together; a check that hangs or fails is a problem."""

    async def run(check: Check) -> str | None:
        try:
            return await asyncio.wait_for(check(), CHECK_TIMEOUT_S)
        except TimeoutError:
            return f"{getattr(check, '__name__', 'check')}: no answer in {CHECK_TIMEOUT_S:.0f}s"
        except Exception as exc:
            return f"{getattr(check, '__name__', 'check')}: {type(exc).__name__}: {exc}"

    found = await asyncio.gather(*(run(check) for check in checks))
    return [problem for problem in found if problem is not None]


def build_router(
    registry: CollectorRegistry,
    checks: Sequence[Check],
    before_scrape: Sequence[Callable[[], Awaitable[None]]] = (),
) -> APIRouter:
    """The three endpoints over ``registry``; ``before_scrape`` refreshes gauges read from
    elsewhere (lag, backlogs) before each scrape."""
    router = APIRouter(tags=["operations"])

    @router.get(
        "/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}}
    )
    async def metrics() -> Response:
        """This process's metrics in Prometheus' text format."""
        for refresh in before_scrape:
            try:
                await refresh()
            except Exception:  # a scrape still answers with what the process knows
                log.exception("refreshing metrics before a scrape failed")
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @router.get("/health/live")
    async def live() -> dict[str, str]:
        """200 while the process serves requests (restart it when this fails)."""
        return {"status": "live"}

    @router.get("/health/ready", responses={503: {"description": "Not ready; the problems"}})
    async def ready() -> JSONResponse:
        """200 when everything the process depends on answers; 503 naming what does not
        (take it out of service, do not restart it)."""
        found = await problems(checks)
        if found:
            return JSONResponse({"status": "unready", "problems": found}, status_code=503)
        return JSONResponse({"status": "ready"})

    return router


def ops_app(router: APIRouter) -> FastAPI:
    """An application serving only the operator's endpoints (for the worker processes)."""
    app = FastAPI(title="Laurel operations", openapi_url=None, docs_url=None, redoc_url=None)
    app.include_router(router)
    return app


class _Server(uvicorn.Server):
    """uvicorn inside a process that owns its signals (Faust, the ranker, webhooks)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serving(app: FastAPI, host: str, port: int) -> AsyncIterator[None]:
    """Serve ``app`` on ``host:port`` in the running loop for the duration of the block."""
    server = _Server(
        uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            with contextlib.suppress(SystemExit):  # uvicorn exits when it cannot bind
                task.result()
            raise OSError(f"cannot serve the operations endpoints on {host}:{port} (see above)")
        await asyncio.sleep(0.01)  # uvicorn offers no event for "listening"
    log.info(
        "operations endpoints on http://%s:%d (/metrics, /health/live, /health/ready)", host, port
    )
    try:
        yield
    finally:
        server.should_exit = True
        await task
