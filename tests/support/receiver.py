"""A real HTTP receiver on loopback for webhook tests: it records every request and answers
each path as the test scripted it (statuses in turn, a hang, then 200)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson


@dataclass(frozen=True)
class Received:
    """One request as it arrived."""

    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]


HANG = "hang"
"""A scripted answer: hold the request until the receiver is closed (past any timeout)."""


@dataclass
class Receiver:
    """Requests by arrival; ``script[path]`` lists the answers to give first (a status or
    :data:`HANG`), after which every request gets 200."""

    port: int = 0
    received: list[Received] = field(default_factory=list)
    script: dict[str, list[int | str]] = field(default_factory=dict)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    """Extra response headers by path (``Retry-After``...)."""
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _closing: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def on(self, path: str, *answers: int | str) -> str:
        """Script ``path``'s first answers; returns its URL."""
        with self._changed:
            self.script[path] = list(answers)
        return self.url(path)

    def at(self, path: str) -> list[Received]:
        with self._changed:
            return [r for r in self.received if r.path == path]

    def wait(self, condition: Callable[[], bool], timeout_s: float, what: str) -> None:
        """Block until ``condition`` holds (re-checked on every request), or fail naming
        ``what``."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while not condition():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what}")
                self._changed.wait(min(left, 1.0))

    def _answer(self, path: str) -> int | str:
        with self._changed:
            answers = self.script.get(path)
            return answers.pop(0) if answers else 200

    def _record(self, request: Received) -> None:
        with self._changed:
            self.received.append(request)
            self._changed.notify_all()


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            receiver._record(Received(self.path, headers, body))
            answer = receiver._answer(self.path)
            if answer == HANG:
                receiver._closing.wait()
                return
            assert isinstance(answer, int)
            self.send_response(answer)
            for name, value in receiver.headers.get(self.path, {}).items():
                self.send_header(name, value)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def receiving() -> Iterator[Receiver]:
    """A receiver listening on 127.0.0.1 until the block ends."""
    receiver = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver._closing.set()
        server.shutdown()
        server.server_close()
