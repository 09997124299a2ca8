"""When to try a failed delivery again: a schedule of delays (Svix's by default), each with
jitter, and ``Retry-After`` when the receiver asks for longer."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

SVIX_SCHEDULE = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
"""Seconds before each retry: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h."""
JITTER = 0.2
"""Each delay is drawn from ±20 % of its value, so that a receiver's failures do not come back
as one thundering herd."""
MAX_RETRY_AFTER_S = 86_400.0


def parse_schedule(text: str) -> tuple[float, ...]:
    """``"5,300,1800"`` → seconds; raises ``ValueError`` naming a bad entry."""
    delays = []
    for part in text.split(","):
        try:
            delay = float(part)
        except ValueError:
            raise ValueError(f"retry delay {part.strip()!r} is not a number of seconds") from None
        if not 0 <= delay <= MAX_RETRY_AFTER_S:
            raise ValueError(f"retry delay {delay} is not between 0 and {MAX_RETRY_AFTER_S:.0f}")
        delays.append(delay)
    return tuple(delays)


def retry_in(
    schedule: Sequence[float],
    attempts: int,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float | None:
    """Seconds until the next attempt after ``attempts`` failed ones, or ``None`` when the
    schedule is used up; ``retry_after`` (the receiver's ask) wins when it is longer."""
    if attempts > len(schedule):
        return None
    delay = schedule[attempts - 1] * (1 + JITTER * (2 * (rng or random).random() - 1))
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER_S))
    return delay


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds from ``now``: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
