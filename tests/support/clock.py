"""Moving the api's and the scheduler's time in end-to-end tests (``LAUREL_CLOCK_FILE``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from tests.support.infra import Namespace
from tests.support.processes import LaurelProcesses, running


class ClockFile:
    """The instant the processes read as "now"; written atomically."""

    def __init__(self, path: Path, start: datetime) -> None:
        self.path = path
        self.set(start)

    def set(self, instant: datetime) -> None:
        staged = self.path.with_suffix(".tmp")
        staged.write_text(instant.isoformat())
        staged.replace(self.path)

    def now(self) -> datetime:
        return datetime.fromisoformat(self.path.read_text())


@contextmanager
def running_on(
    ns: Namespace, clock: ClockFile, extra_env: dict[str, str] | None = None, webhooks: bool = False
) -> Iterator[LaurelProcesses]:
    """The api and the processor (and a webhooks process) on ``clock``, with a scheduler and a
    ranker that look twice a second."""
    env = {
        "LAUREL_CLOCK_FILE": str(clock.path),
        "LAUREL_SCHEDULER_INTERVAL_S": "0.5",
        "LAUREL_RANKER_INTERVAL_S": "0.5",
        **(extra_env or {}),
    }
    with running(ns, env, webhooks) as procs:
        yield procs
