"""Points systems (Trophy's §2.6): triggers, boosts, the cap, the floor and levels, as pure
functions.

A user holds, per system, an integer ``total``. Triggers award (or, with negative points,
deduct): ``metric`` every ``metric_threshold`` units of a metric, ``achievement`` on completing
one, ``streak`` each time the streak reaches a multiple of ``streak_length``, ``user_creation``
on first identification and ``time`` every interval (sent by the scheduler). Positive awards are
multiplied by every boost in force on the user's local date (stacking multiplicatively) and then
rounded; ``max_points`` caps the total; deductions stop at zero, except that a metric event a
``block_if_out_of_points`` trigger would take below zero is refused as a whole.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal, TypeAlias

from projections.core.achievements import AttributeFilter, filters_match
from projections.core.versions import Versioned

TriggerType: TypeAlias = Literal["metric", "achievement", "streak", "time", "user_creation"]
TimeUnit: TypeAlias = Literal["hours", "days"]
Rounding: TypeAlias = Literal["down", "up", "nearest"]


@dataclass(frozen=True)
class PointsSystem(Versioned):
    """One version of a points system."""

    tenant: str
    id: uuid.UUID
    key: str
    name: str
    created: datetime
    description: str | None = None
    badge_url: str | None = None
    max_points: int | None = None


@dataclass(frozen=True)
class PointsTrigger(Versioned):
    """One version of a points trigger: what pays, how much, and for whom."""

    tenant: str
    id: uuid.UUID
    system_id: uuid.UUID
    type: TriggerType
    points: int
    status: Literal["active", "inactive"]
    created: datetime
    updated: datetime
    metric_id: uuid.UUID | None = None
    metric_threshold: float | None = None
    achievement_id: uuid.UUID | None = None
    streak_length: int | None = None
    time_unit: TimeUnit | None = None
    time_interval: int | None = None
    user_filters: tuple[AttributeFilter, ...] = ()
    event_filters: tuple[AttributeFilter, ...] = ()
    block_if_out_of_points: bool = False

    @property
    def interval(self) -> timedelta | None:
        """A time trigger's interval (``None`` for other types)."""
        if self.time_interval is None or self.time_unit is None:
            return None
        hours = self.time_interval * (24 if self.time_unit == "days" else 1)
        return timedelta(hours=hours)


@dataclass(frozen=True)
class PointsLevel(Versioned):
    """One version of a points level: reached at ``points``."""

    tenant: str
    id: uuid.UUID
    system_id: uuid.UUID
    key: str
    name: str
    points: int
    created: datetime
    description: str | None = None
    badge_url: str | None = None


@dataclass(frozen=True)
class PointsBoost(Versioned):
    """One version of a points boost: a multiplier on the user's local dates from start to end."""

    tenant: str
    id: uuid.UUID
    system_id: uuid.UUID
    name: str
    start: date
    end: date | None
    multiplier: float
    rounding: Rounding
    created: datetime
    user_id: str | None = None
    user_filters: tuple[AttributeFilter, ...] = ()

    def applies(self, user_id: str, attributes: Mapping[str, str], day: date) -> bool:
        """Whether the boost counts for this user on their local ``day``."""
        if day < self.start or (self.end is not None and day > self.end):
            return False
        if self.user_id is not None:
            return self.user_id == user_id
        return filters_match(self.user_filters, attributes)


def boost_status(boost: PointsBoost, today: date) -> Literal["scheduled", "active", "finished"]:
    """Whether the boost is scheduled, active or finished on the local date ``today``."""
    if today < boost.start:
        return "scheduled"
    if boost.end is not None and today > boost.end:
        return "finished"
    return "active"


@dataclass(frozen=True)
class Award:
    """Points a trigger gave (or took): ``awarded`` after boosts, cap and floor; ``total`` the
    system's total after it."""

    id: uuid.UUID
    system_id: uuid.UUID
    trigger: PointsTrigger
    awarded: int
    total: int
    at: datetime
    boosts: tuple[PointsBoost, ...] = ()


@dataclass(frozen=True)
class LevelChange:
    """A system's level before and after a command (``None``: no level)."""

    system_id: uuid.UUID
    previous: PointsLevel | None
    current: PointsLevel | None


@dataclass(frozen=True)
class PointsState:
    """One user's points: totals and levels per system, and counters of metric triggers."""

    totals: Mapping[uuid.UUID, int] = field(default_factory=dict)
    levels: Mapping[uuid.UUID, uuid.UUID] = field(default_factory=dict)
    units: Mapping[uuid.UUID, float] = field(default_factory=dict)
    """Per metric trigger: units counted toward it (the change of matching events)."""
    paid: Mapping[uuid.UUID, int] = field(default_factory=dict)
    """Per metric trigger: how many thresholds were already paid."""
    timers: Mapping[uuid.UUID, datetime] = field(default_factory=dict)
    """Per time trigger: when it last fired (or started counting for this user)."""


@dataclass(frozen=True)
class Context:
    """What the rules need to know about the user and the moment."""

    user_id: str
    attributes: Mapping[str, str]
    day: date
    at: datetime


def boosted(points: int, boosts: Sequence[PointsBoost]) -> int:
    """``points`` multiplied by every boost, rounded once. Mixed rounding modes round down."""
    if points <= 0 or not boosts:
        return points
    value = points * math.prod(b.multiplier for b in boosts)
    modes = {b.rounding for b in boosts}
    mode = modes.pop() if len(modes) == 1 else "down"
    if mode == "up":
        return math.ceil(value - 1e-9)
    if mode == "nearest":
        return math.floor(value + 0.5)
    return math.floor(value + 1e-9)


def level_for(levels: Iterable[PointsLevel], total: int) -> PointsLevel | None:
    """The highest level whose threshold the total has reached (``total >= points``)."""
    reached = [lv for lv in levels if total >= lv.points]
    return max(reached, key=lambda lv: (lv.points, lv.created, str(lv.id))) if reached else None


@dataclass
class Ledger:
    """Collects the awards of one command against a points state."""

    state: PointsState
    systems: Mapping[uuid.UUID, PointsSystem]
    boosts: Sequence[PointsBoost]
    command_id: uuid.UUID
    awards: list[Award] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    def award(self, trigger: PointsTrigger, times: int, ctx: Context) -> None:
        """Apply ``trigger`` ``times`` times (its points times ``times``, boosted)."""
        system = self.systems.get(trigger.system_id)
        if system is None or times <= 0:
            return
        totals = dict(self.state.totals)
        before = totals.get(system.id, 0)
        applied = [
            b
            for b in self.boosts
            if b.system_id == system.id and b.applies(ctx.user_id, ctx.attributes, ctx.day)
        ]
        points = boosted(trigger.points * times, applied if trigger.points > 0 else ())
        after = before + points
        if after < 0:
            if trigger.block_if_out_of_points and trigger.type == "metric":
                self.blocked.append(system.key)
            after = 0  # deductions stop at zero
        if points > 0 and system.max_points is not None:
            after = min(after, max(system.max_points, before))  # the cap (never lowers a total)
        if after == before:
            return
        totals[system.id] = after
        self.state = PointsState(
            totals, self.state.levels, self.state.units, self.state.paid, self.state.timers
        )
        award_id = uuid.uuid5(self.command_id, f"{trigger.id}/{len(self.awards)}")
        used = tuple(applied) if trigger.points > 0 else ()
        self.awards.append(Award(award_id, system.id, trigger, after - before, after, ctx.at, used))


def metric_awards(
    ledger: Ledger,
    triggers: Sequence[PointsTrigger],
    metric_id: uuid.UUID,
    value: float,
    event_attributes: Mapping[str, str],
    ctx: Context,
) -> None:
    """Count a metric event toward every matching metric trigger, paying each threshold
    crossed upward (a negative value counts down; thresholds already paid stay paid)."""
    if not triggers:
        return
    units, paid = dict(ledger.state.units), dict(ledger.state.paid)
    pending: list[tuple[PointsTrigger, int]] = []
    for trigger in triggers:
        if (
            trigger.type != "metric"
            or trigger.metric_id != metric_id
            or not trigger.metric_threshold
            or not filters_match(trigger.user_filters, ctx.attributes)
            or not filters_match(trigger.event_filters, event_attributes)
        ):
            continue
        counted = units.get(trigger.id, 0.0) + value
        units[trigger.id] = counted
        reached = math.floor(counted / trigger.metric_threshold + 1e-9)
        if reached > paid.get(trigger.id, 0):
            pending.append((trigger, reached - paid.get(trigger.id, 0)))
            paid[trigger.id] = reached
    state = ledger.state
    ledger.state = PointsState(state.totals, state.levels, units, paid, state.timers)
    for trigger, times in pending:
        ledger.award(trigger, times, ctx)


def event_awards(
    ledger: Ledger,
    triggers: Sequence[PointsTrigger],
    ctx: Context,
    *,
    achievements: Collection[uuid.UUID] = (),
    streak_lengths: Collection[int] = (),
    created: bool = False,
) -> None:
    """Awards of achievement, streak and user-creation triggers for what just happened."""
    if not triggers or not (achievements or streak_lengths or created):
        return  # nothing happened that these triggers pay for
    completed = set(achievements)
    lengths = list(streak_lengths)
    for trigger in triggers:
        if not filters_match(trigger.user_filters, ctx.attributes):
            continue
        if trigger.type == "achievement" and trigger.achievement_id in completed:
            ledger.award(trigger, 1, ctx)
        elif trigger.type == "streak" and trigger.streak_length:
            times = sum(1 for n in lengths if n % trigger.streak_length == 0)
            ledger.award(trigger, times, ctx)
        elif trigger.type == "user_creation" and created:
            ledger.award(trigger, 1, ctx)


def start_timers(
    state: PointsState, triggers: Sequence[PointsTrigger], at: datetime
) -> PointsState:
    """Time triggers count from the first time they see the user."""
    timers = dict(state.timers)
    for trigger in triggers:
        if trigger.type == "time" and trigger.id not in timers:
            timers[trigger.id] = at
    if timers == state.timers:
        return state
    return PointsState(state.totals, state.levels, state.units, state.paid, timers)


def time_awards(ledger: Ledger, triggers: Sequence[PointsTrigger], ctx: Context) -> None:
    """Fire every time trigger whose intervals have elapsed by ``ctx.at``, once per interval."""
    if not triggers:
        return
    timers = dict(ledger.state.timers)
    due: list[tuple[PointsTrigger, int]] = []
    for trigger in triggers:
        interval = trigger.interval
        since = timers.get(trigger.id)
        if trigger.type != "time" or interval is None or since is None:
            continue
        times = (ctx.at - since) // interval
        if times > 0:
            timers[trigger.id] = since + times * interval
            if filters_match(trigger.user_filters, ctx.attributes):
                due.append((trigger, times))
    state = ledger.state
    ledger.state = PointsState(state.totals, state.levels, state.units, state.paid, timers)
    for trigger, times in due:
        ledger.award(trigger, times, ctx)


def next_timer(state: PointsState, triggers: Iterable[PointsTrigger]) -> datetime | None:
    """When the next time trigger falls due for this user."""
    due = [
        state.timers[t.id] + t.interval
        for t in triggers
        if t.type == "time" and t.interval is not None and t.id in state.timers
    ]
    return min(due) if due else None


def settle_levels(
    state: PointsState, levels: Iterable[PointsLevel], systems: Iterable[uuid.UUID]
) -> tuple[PointsState, list[LevelChange]]:
    """Recompute the level of each of ``systems``; the changes, for responses and webhooks."""
    by_system: dict[uuid.UUID, list[PointsLevel]] = {}
    for level in levels:
        by_system.setdefault(level.system_id, []).append(level)
    current = dict(state.levels)
    changes: list[LevelChange] = []
    for system_id in systems:
        candidates = by_system.get(system_id, [])
        new = level_for(candidates, state.totals.get(system_id, 0))
        old_id = current.get(system_id)
        if (new.id if new else None) == old_id:
            continue
        old = next((lv for lv in candidates if lv.id == old_id), None)
        if new is None:
            current.pop(system_id, None)
        else:
            current[system_id] = new.id
        changes.append(LevelChange(system_id, old, new))
    return PointsState(state.totals, current, state.units, state.paid, state.timers), changes
