"""When Trophy's time-driven webhooks fire (trophy-api.md, "Webhooks"): boosts going live and
ending, and leaderboard runs starting. Pure functions of the configuration and a time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from projections.core.leaderboards import Leaderboard, Run
from projections.core.points import PointsBoost
from projections.core.zones import zone

STARTED_AT = time(10)
"""Global boosts and leaderboard runs are announced at 10:00 UTC the day before they start
(local dates begin up to 14 hours before the UTC date does)."""
FINISHED_AT = time(13)
"""Global boosts are announced finished at 13:00 UTC the day after they end (local dates end
up to 12 hours after the UTC date does)."""


def _utc(day: date, at: time) -> datetime:
    return datetime.combine(day, at, UTC)


def boost_started_at(boost: PointsBoost, tz: str | None = None) -> datetime:
    """When ``points.boost_started`` fires: a user's boost at the start of its first day in the
    user's zone ``tz``; a global or cohort boost at 10:00 UTC the day before."""
    if boost.user_id is not None:
        return datetime.combine(boost.start, time(), zone(tz))
    return _utc(boost.start - timedelta(days=1), STARTED_AT)


def boost_finished_at(boost: PointsBoost, tz: str | None = None) -> datetime | None:
    """When ``points.boost_finished`` fires (``None``: the boost has no end): a user's boost at
    the end of its last day in ``tz``; a global or cohort boost at 13:00 UTC the day after."""
    if boost.end is None:
        return None
    if boost.user_id is not None:
        return datetime.combine(boost.end + timedelta(days=1), time(), zone(tz))
    return _utc(boost.end + timedelta(days=1), FINISHED_AT)


def run_started_at(run: Run) -> datetime:
    """When ``leaderboard.started`` fires for a run: 10:00 UTC the day before its first day."""
    return _utc(run.start - timedelta(days=1), STARTED_AT)


def runs_starting(board: Leaderboard, since: date, until: date) -> list[Run]:
    """The board's runs whose first day falls in ``[since, until]``."""
    runs = []
    day = since
    while day <= until:
        run = board.run_at(day)
        if run is not None and run.start == day:
            runs.append(run)
        day += timedelta(days=1)
    return runs
