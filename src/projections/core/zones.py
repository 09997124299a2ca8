"""Time zones: validation and local dates in a user's IANA zone."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

DEFAULT_ZONE = "UTC"
"""The zone of a user who never gave one (Trophy leaves this undocumented)."""


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def valid_time_zone(name: str) -> bool:
    """Whether ``name`` is an IANA zone name known to the bundled tz database."""
    if name not in _zone_names():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


@lru_cache(maxsize=4096)
def zone(name: str | None) -> ZoneInfo:
    """The zone for ``name``, or UTC for a user without one."""
    return ZoneInfo(name or DEFAULT_ZONE)


def local_date(at: datetime, tz: str | None) -> date:
    """The calendar date of instant ``at`` in zone ``tz``."""
    return at.astimezone(zone(tz)).date()
