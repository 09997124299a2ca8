"""Where processes get the current time: the system clock, or a file for tests and demos."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from ingest.clock import Clock


def utc_now() -> datetime:
    """The system clock's instant, in UTC."""
    return datetime.now(UTC)


class FileClock:
    """The instant written in a file (RFC 3339, with an offset), re-read when the file changes.

    Set with ``LAUREL_CLOCK_FILE`` so an end-to-end test can move the api's and the scheduler's
    time forward by days without waiting; never set it in production.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, datetime] | None = None

    def __call__(self) -> datetime:
        """The file's instant (re-read only when the file changed)."""
        stamp = self.path.stat().st_mtime_ns
        if self._seen is None or self._seen[0] != stamp:
            instant = datetime.fromisoformat(self.path.read_text().strip())
            if instant.tzinfo is None:
                raise ValueError(f"{self.path}: the instant must carry a UTC offset")
            self._seen = (stamp, instant.astimezone(UTC))
        return self._seen[1]


def clock_for(path: Path | None) -> Clock:
    """The system clock, or a :class:`FileClock` when ``path`` is set."""
    return FileClock(path) if path is not None else utc_now
