"""What the api counts, for Prometheus: requests by route template and status, their latency,
the synchronous requests waiting for the processor and those that gave up waiting (answered
202). Route templates, never paths, label the series, so a user id never becomes a label."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED = "unmatched"
"""The route label of a request no route matched (a 404 or a request refused before routing)."""

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ApiMetrics:
    """The api process's instruments, registered in ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "laurel_http_requests",
            "HTTP requests answered, by method, route template and status code.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "laurel_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, by method and route.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.in_flight = Gauge(
            "laurel_http_requests_in_flight", "Requests being served.", registry=registry
        )
        self.sync_timeouts = Counter(
            "laurel_sync_timeouts",
            "Synchronous writes whose outcome did not arrive in LAUREL_SYNC_TIMEOUT_S (202).",
            registry=registry,
        )

        self._templates: dict[int, str] = {}
        """By ``id`` of the route object (routes live as long as the app; they are unhashable)."""

    def mounted(self, prefix: str, routes: Iterable[BaseRoute]) -> None:
        """``routes`` are served under ``prefix``: label their requests with the full template
        (FastAPI keeps an included router's routes with their own paths)."""
        for route in routes:
            self._templates[id(route)] = prefix + str(getattr(route, "path", ""))

    def route_label(self, scope: Scope) -> str:
        """The template of the route that served the request, or :data:`UNMATCHED`."""
        route = scope.get("route")
        if not isinstance(route, BaseRoute):
            return UNMATCHED
        return self._templates.get(id(route)) or str(getattr(route, "path", UNMATCHED))

    def watch_waiters(self, waiting: Callable[[], int]) -> None:
        """Report ``waiting()`` as the synchronous requests waiting for their outcome."""
        gauge = Gauge(
            "laurel_sync_waiters",
            "Synchronous writes waiting for the processor's outcome.",
            registry=self.registry,
        )
        gauge.set_function(waiting)


ACCESS_LOG = logging.getLogger("laurel.access")


class RequestMetrics:
    """ASGI middleware counting and timing every HTTP request into :class:`ApiMetrics`, and,
    with ``access_log``, logging one line per request (method, path without its query, route,
    status, milliseconds; the request id comes with the line)."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics, access_log: bool = False) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request, then count it by its route template and status."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception that escapes every handler is answered 500 by the server

        async def noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, noting_status)
        finally:
            self.metrics.in_flight.dec()
            method, route = scope["method"], self.metrics.route_label(scope)
            seconds = time.perf_counter() - started
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(seconds)
            if self.access_log:
                ACCESS_LOG.info(
                    "%s %s %d %.1fms",
                    method,
                    scope["path"],
                    status,
                    seconds * 1000,
                    extra={"route": route, "status": status},
                )
