"""Leaderboards (Trophy's §2.7): runs, daily time windows, breakdown groups, statuses, and the
value each user holds in a run — as pure functions of configuration and one user's history.

What a user holds on a board is deterministic (a fold of that user's commands); where the user
stands among everyone else is not (it depends on how far every other partition has got), so
ranks are computed at read time by :mod:`projections.query.ranking`, never here.

Runs follow each participant's local calendar. A perpetual board has one run, ``start`` to
``end``; a repeating board starts a run every ``run_interval`` times ``run_unit`` (day, month, year)
from ``start`` — a month run that starts on the 31st starts on the last day of shorter months.
A run of a metric or points board ranks what was earned inside it (the net change); a streak
board ranks the current streak length and never repeats.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, TypeAlias

from projections.core.achievements import AttributeFilter, filters_match
from projections.core.values import replace
from projections.core.versions import Versioned
from projections.core.zones import zone

RankBy: TypeAlias = Literal["metric", "points", "streak"]
RunUnit: TypeAlias = Literal["day", "month", "year"]
StoredStatus: TypeAlias = Literal["inactive", "active", "scheduled", "finished"]
Status: TypeAlias = Literal["inactive", "scheduled", "active", "finished"]

FINALISE_AFTER = timedelta(hours=12)
"""A run is final this long after its last day ends in UTC: by then the run has ended in every
zone (the westernmost, UTC-12, is the last)."""
EARLIEST_OFFSET = timedelta(hours=14)
"""The easternmost zone (UTC+14) starts a day this long before UTC does."""


@dataclass(frozen=True)
class BreakdownAttribute:
    """A user attribute a board is broken down by."""

    id: uuid.UUID
    key: str


@dataclass(frozen=True)
class Run:
    """One repetition of a board: local dates ``start`` to ``end`` inclusive (``None``: open)."""

    start: date
    end: date | None

    def finalised(self, now: datetime) -> bool:
        """Whether the run is over everywhere and its winners are fixed."""
        return self.end is not None and now >= finalised_at(self.end)


def finalised_at(last_day: date) -> datetime:
    """When a run whose last local day is ``last_day`` is final everywhere."""
    return datetime.combine(last_day + timedelta(days=1), time(), UTC) + FINALISE_AFTER


def _add_months(start: date, months: int) -> date:
    """``start`` moved by ``months``, on the same day of month or the month's last day."""
    index = start.year * 12 + start.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    following = date(year + (month == 12), month % 12 + 1, 1)
    return date(year, month, min(start.day, (following - timedelta(days=1)).day))


@dataclass(frozen=True)
class Leaderboard(Versioned):
    """One version of a leaderboard: what it ranks, its runs, window, breakdowns and limits."""

    tenant: str
    id: uuid.UUID
    key: str
    name: str
    rank_by: RankBy
    status: StoredStatus
    start: date
    created: datetime
    end: date | None = None
    description: str | None = None
    metric_id: uuid.UUID | None = None
    points_system_id: uuid.UUID | None = None
    max_participants: int | None = 1000
    """``None``: no limit."""
    start_time: time | None = None
    end_time: time | None = None
    breakdown: tuple[BreakdownAttribute, ...] = ()
    run_unit: RunUnit | None = None
    run_interval: int | None = None
    user_filters: tuple[AttributeFilter, ...] = ()
    """Only users whose attributes match take part."""

    @property
    def accrues(self) -> bool:
        """Whether commands change entries (inactive and finished boards are frozen)."""
        return self.status in ("active", "scheduled")

    def boundary(self, index: int) -> date:
        """The first day of run number ``n`` (0 is the first run)."""
        interval = self.run_interval or 1
        if self.run_unit == "day":
            return self.start + timedelta(days=index * interval)
        months = interval * (12 if self.run_unit == "year" else 1)
        return _add_months(self.start, index * months)

    def run_at(self, day: date) -> Run | None:
        """The run that local date ``day`` belongs to, if the board covers it."""
        if day < self.start or (self.end is not None and day > self.end):
            return None
        if self.run_unit is None:
            return Run(self.start, self.end)
        interval = self.run_interval or 1
        if self.run_unit == "day":
            index = (day - self.start).days // interval
        else:
            months = interval * (12 if self.run_unit == "year" else 1)
            elapsed = (day.year - self.start.year) * 12 + day.month - self.start.month
            index = elapsed // months
            if self.boundary(index) > day:
                index -= 1
        last = self.boundary(index + 1) - timedelta(days=1)
        if self.end is not None and last > self.end:
            last = self.end
        return Run(self.boundary(index), last)

    def run_near(self, day: date) -> Run:
        """The run containing ``day``, or the first (before the start) or last (after the end)."""
        if day < self.start:
            day = self.start
        elif self.end is not None and day > self.end:
            day = self.end
        run = self.run_at(day)
        assert run is not None
        return run

    def status_at(self, now: datetime) -> Status:
        """The status users see: a stored active or scheduled board is ``scheduled`` until its
        first day starts anywhere and ``finished`` once its last run is final."""
        if self.status in ("inactive", "finished"):
            return self.status
        if now < datetime.combine(self.start, time(), UTC) - EARLIEST_OFFSET:
            return "scheduled"
        if self.end is not None and now >= finalised_at(self.end):
            return "finished"
        return "active"

    def in_window(self, local: time) -> bool:
        """Whether local time ``local`` is inside the daily window (always, without one). A
        window whose end is before its start runs overnight."""
        start = self.start_time or time()
        if self.end_time is None:
            return local >= start
        if start <= self.end_time:
            return start <= local < self.end_time
        return local >= start or local < self.end_time

    def group_of(self, attributes: Mapping[str, str]) -> tuple[str, ...] | None:
        """The breakdown group of a user with ``attributes``: their values of the breakdown
        attributes, ``()`` without breakdowns, ``None`` when one is missing or the user does
        not match the board's filters (not ranked)."""
        if not filters_match(self.user_filters, attributes):
            return None
        values = tuple(attributes.get(a.key) for a in self.breakdown)
        if any(v is None for v in values):
            return None
        return tuple(v for v in values if v is not None)


@dataclass(frozen=True)
class Entry:
    """What a user holds on one board: the run it belongs to, the value, the breakdown group and
    when the value was reached (the tie-break: whoever reached a value first ranks first)."""

    run: date
    value: float
    group: tuple[str, ...] | None
    reached_at: datetime


@dataclass(frozen=True)
class EntryChange:
    """A user's entry on a board as one command changed it, with the run and the value before."""

    board: Leaderboard
    run: Run
    previous: Entry | None
    """The entry before the command, if in the same run."""
    entry: Entry
    day: date
    """The participant's local date."""
    at: datetime
    """When (the command's time)."""


@dataclass(frozen=True)
class Movement:
    """What one command changed that boards rank: metric totals and points totals by id (the
    net change) and the streak length (when it changed)."""

    metrics: Mapping[uuid.UUID, float]
    points: Mapping[uuid.UUID, float]
    streak_length: int
    streak_changed: bool


def movement(
    totals_before: Mapping[uuid.UUID, float],
    totals_after: Mapping[uuid.UUID, float],
    points_before: Mapping[uuid.UUID, int],
    points_after: Mapping[uuid.UUID, int],
    streak_before: int,
    streak_after: int,
) -> Movement:
    """What a command moved that boards rank: metric totals, points totals and the streak length."""

    def changes(
        before: Mapping[uuid.UUID, float], after: Mapping[uuid.UUID, float]
    ) -> dict[uuid.UUID, float]:
        return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}

    return Movement(
        metrics=changes(totals_before, totals_after),
        points=changes(
            {k: float(v) for k, v in points_before.items()},
            {k: float(v) for k, v in points_after.items()},
        ),
        streak_length=streak_after,
        streak_changed=streak_after != streak_before,
    )


def step(
    entries: Mapping[uuid.UUID, Entry],
    boards: Iterable[Leaderboard],
    moved: Movement,
    attributes: Mapping[str, str],
    tz: str | None,
    at: datetime,
) -> tuple[Mapping[uuid.UUID, Entry], list[EntryChange]]:
    """Apply one command's movement to a user's entries on every board that accrues at ``at``.

    A change outside the board's daily window does not count; a new run starts from 0; a user
    whose breakdown attributes changed moves to the new group with the value they hold.
    """
    local = at.astimezone(zone(tz))
    today = local.date()
    out = dict(entries)
    changes: list[EntryChange] = []
    for board in boards:
        if not board.accrues:
            continue
        run = board.run_at(today)
        if run is None:
            continue
        held = entries.get(board.id)
        previous = held if held is not None and held.run == run.start else None
        group = board.group_of(attributes)
        value = _moved_value(board, moved, previous)
        if value is None or not board.in_window(local.time()):
            if previous is not None and previous.group != group:
                entry = replace(previous, group=group)
                out[board.id] = entry
                changes.append(EntryChange(board, run, previous, entry, today, at))
            continue
        if previous is not None and previous.value == value and previous.group == group:
            continue
        reached = previous.reached_at if previous and previous.value == value else at
        entry = Entry(run.start, value, group, reached)
        out[board.id] = entry
        changes.append(EntryChange(board, run, previous, entry, today, at))
    return out, changes


def _moved_value(board: Leaderboard, moved: Movement, previous: Entry | None) -> float | None:
    """The user's new value on ``board``, or ``None`` when the command does not touch it."""
    if board.rank_by == "streak":
        if moved.streak_changed or (previous is None and moved.streak_length > 0):
            return float(moved.streak_length)
        return None
    source = moved.metrics if board.rank_by == "metric" else moved.points
    ref = board.metric_id if board.rank_by == "metric" else board.points_system_id
    if ref is None or ref not in source:
        return None
    return (previous.value if previous is not None else 0.0) + source[ref]
