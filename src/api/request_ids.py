"""Each request's id: the caller's ``X-Request-ID`` when it is a sane token, else a new one;
echoed on the response and attached to every log line written while the request is served."""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "X-Request-ID"
_ACCEPTED = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
_current: ContextVar[str | None] = ContextVar("laurel_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being served in this context, if any."""
    return _current.get()


class RequestIds:
    """ASGI middleware: give the request its id for the duration of the call."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request with its id set and returned in ``X-Request-ID``."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(HEADER.lower().encode())
        request_id = given.decode() if given and _ACCEPTED.fullmatch(given) else uuid.uuid4().hex
        token = _current.set(request_id)

        async def with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (HEADER.lower().encode(), request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, with_id)
        finally:
            _current.reset(token)


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to records logged while a request is served."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Always keep the record; tag it with the current request's id."""
        request_id = _current.get()
        if request_id is not None and not hasattr(record, "request_id"):
            record.request_id = request_id
        return True
