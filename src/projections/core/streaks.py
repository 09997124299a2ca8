"""Streaks: one per user, counted in calendar periods of the user's zone (Trophy's §2.4).

The state a user carries is :class:`Streak`. Everything that changes it is a pure function of
the state, the rules in force and an instant taken from a command:

* :func:`advance` moves the state to an instant, closing every period that ended on the way:
  a met period keeps the streak, an unmet one is forgiven by a day off, a pause or a freeze (in
  that order), or ends the streak; auto-earned freezes arrive at their due instants.
* :func:`record_activity` adds a metric event's value to the open period and extends the streak
  the first time the period's conditions are met.
* grants, pauses, restores and resets are the admin operations.

Reads call :func:`advance` with ``now`` on a copy of the stored state, so a read is right at any
instant whether or not the scheduler has already delivered the period's end.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal, TypeAlias

from projections.core.periods import (
    MONDAY,
    Frequency,
    next_period,
    period_end,
    period_start,
    previous_period,
    start_of_day,
    weekday,
)
from projections.core.values import replace
from projections.core.zones import local_date

EvaluationMode: TypeAlias = Literal["AND", "OR"]
MAX_FREEZES = 100
RESTORE_DAYS = 90
_RUN_MEMORY = timedelta(days=800)  # longer than any restore window


@dataclass(frozen=True)
class FreezePolicy:
    """Streak freezes as configured: a grant at first identification, optional auto-earn, a cap."""

    start_count: int = 0
    max_count: int = 0
    auto_earn_interval_days: int | None = None
    auto_earn_amount: int | None = None

    @property
    def auto_earn(self) -> bool:
        """Whether freezes are earned over time."""
        return bool(self.auto_earn_interval_days and self.auto_earn_amount)


@dataclass(frozen=True)
class StreakSettings:
    """A tenant's streak configuration (Trophy's ``StreakSettings``, plus ``week_start``)."""

    frequency: Frequency = "daily"
    evaluation_mode: EvaluationMode = "AND"
    customization_enabled: bool = False
    days_off: frozenset[int] = frozenset()
    metrics: tuple[tuple[str, float], ...] = ()
    """(metric key, threshold): the minimum change within a period."""
    freezes: FreezePolicy | None = None
    week_start: int = MONDAY
    """The weekday weekly periods begin on (0 = Sunday … 6 = Saturday)."""


@dataclass(frozen=True)
class StreakPreferences:
    """A user's overrides; ``None`` leaves the tenant's setting in force."""

    enabled: bool = True
    evaluation_mode: EvaluationMode | None = None
    metrics: tuple[tuple[str, float], ...] | None = None
    days_off: frozenset[int] | None = None


@dataclass(frozen=True)
class StreakRules:
    """What decides one user's streak: the tenant's settings with the user's overrides."""

    settings: StreakSettings
    enabled: bool
    evaluation_mode: EvaluationMode
    metrics: tuple[tuple[str, float], ...]
    days_off: frozenset[int]

    @property
    def frequency(self) -> Frequency:
        """The streak's period: daily, weekly or monthly."""
        return self.settings.frequency

    @property
    def freezes(self) -> FreezePolicy | None:
        """The freeze policy, or ``None`` when freezes are off."""
        return self.settings.freezes


def rules_for(settings: StreakSettings, preferences: StreakPreferences) -> StreakRules:
    """The rules for a user: overrides count only while customisation is enabled."""
    mode, metrics, days_off = settings.evaluation_mode, settings.metrics, settings.days_off
    if settings.customization_enabled:
        mode = preferences.evaluation_mode or mode
        metrics = preferences.metrics if preferences.metrics is not None else metrics
        days_off = preferences.days_off if preferences.days_off is not None else days_off
    return StreakRules(
        settings=settings,
        enabled=preferences.enabled,
        evaluation_mode=mode,
        metrics=metrics,
        days_off=days_off if settings.frequency == "daily" else frozenset(),
    )


@dataclass(frozen=True)
class Pause:
    """Local dates [start, end] during which a missed period keeps the streak."""

    id: uuid.UUID
    start: date
    end: date

    def overlaps(self, start: date, end: date) -> bool:
        """Whether the pause covers any day from ``start`` to ``end``."""
        return self.start <= end and self.end >= start


@dataclass(frozen=True)
class EndedRun:
    """A streak that was lost or reset: what a restore can bring back."""

    length: int
    started: date | None
    ended: date


@dataclass(frozen=True)
class Streak:
    """One user's streak state, as of ``as_of``."""

    frequency: Frequency = "daily"
    length: int = 0
    longest: int = 0
    started: date | None = None
    extended_at: datetime | None = None
    period: date | None = None
    """First date of the open period (``None`` until the first command)."""
    progress: Mapping[str, float] = field(default_factory=dict)
    """Change of each streak metric within the open period."""
    met: bool = False
    """Whether the open period already extended the streak."""
    reset_at: datetime | None = None
    """When the open period's streak was reset by an admin."""
    freezes: int = 0
    earned_at: datetime | None = None
    """The last auto-earn instant (or the first identification): the next is one interval on."""
    pauses: tuple[Pause, ...] = ()
    ended_runs: tuple[EndedRun, ...] = ()
    """Lost or reset streaks that a restore may bring back: latest last, longest first."""
    as_of: datetime | None = None


@dataclass(frozen=True)
class PeriodRecord:
    """A closed period, for the streak history (``length`` 0 when the streak was broken)."""

    frequency: Frequency
    start: date
    end: date
    length: int
    used_freeze: bool = False
    used_pause: bool = False
    reset_at: datetime | None = None


TransitionKind: TypeAlias = Literal[
    "streak.started",
    "streak.extended",
    "streak.lost",
    "streak.freeze_consumed",
    "streak.freeze_earned",
]


@dataclass(frozen=True)
class Transition:
    """Something webhooks announce: started/extended (``length``), lost (the ``length`` lost),
    freeze consumed or earned (``count`` and the ``freezes`` left)."""

    kind: TransitionKind
    at: datetime
    length: int = 0
    count: int = 0
    freezes: int = 0


@dataclass
class _Log:
    transitions: list[Transition] = field(default_factory=list)
    periods: list[PeriodRecord] = field(default_factory=list)


@dataclass(frozen=True)
class Step:
    """A new state and what happened on the way to it."""

    streak: Streak
    transitions: tuple[Transition, ...] = ()
    periods: tuple[PeriodRecord, ...] = ()


# ---------------------------------------------------------------------------------------------
# Time


def advance(streak: Streak, rules: StreakRules, tz: str | None, at: datetime) -> Step:
    """Move ``streak`` forward to instant ``at`` (never backwards: an earlier ``at`` is a no-op)."""
    if streak.as_of is not None and at <= streak.as_of:
        return Step(streak)
    log = _Log()
    today = local_date(at, tz)
    week_start = rules.settings.week_start
    if (
        streak.period is None
        or streak.frequency != rules.frequency
        or period_start(streak.period, streak.frequency, week_start) != streak.period
    ):
        # First sight, or the frequency (or the week's first day) changed: count from the
        # period containing ``at``; such a change keeps the length.
        current = period_start(today, rules.frequency, week_start)
        streak = replace(streak, frequency=rules.frequency, period=current, progress={}, met=False)
        streak = _earn(streak, rules, at, log)
        return Step(replace(streak, as_of=at), tuple(log.transitions), tuple(log.periods))
    target = period_start(today, streak.frequency, week_start)
    while streak.period is not None and streak.period < target:
        following = next_period(streak.period, streak.frequency)
        boundary = start_of_day(following, tz)
        streak = _earn(streak, rules, boundary, log)
        streak = _close(streak, rules, boundary, log)
        if streak.length == 0 and streak.period is not None and streak.period < target:
            streak = replace(streak, period=target)  # nothing to keep alive: skip empty periods
    streak = _earn(streak, rules, at, log)
    return Step(replace(streak, as_of=at), tuple(log.transitions), tuple(log.periods))


def _close(streak: Streak, rules: StreakRules, at: datetime, log: _Log) -> Streak:
    """Close the open period at instant ``at`` and open the next one."""
    assert streak.period is not None
    start, end = streak.period, period_end(streak.period, streak.frequency)
    used_freeze = used_pause = False
    length, freezes = streak.length, streak.freezes
    if streak.met or length == 0:
        pass
    elif streak.frequency == "daily" and weekday(start) in rules.days_off:
        pass  # a day off keeps the streak without using anything
    elif any(p.overlaps(start, end) for p in streak.pauses):
        used_pause = True
    elif rules.freezes is not None and freezes > 0:
        freezes -= 1
        used_freeze = True
        log.transitions.append(Transition("streak.freeze_consumed", at, length, 1, freezes))
    else:
        log.transitions.append(Transition("streak.lost", at, length))
        streak = _end_run(streak, end)
        length = 0
    if length or used_freeze or used_pause or streak.reset_at or streak.met:
        log.periods.append(
            PeriodRecord(
                streak.frequency, start, end, length, used_freeze, used_pause, streak.reset_at
            )
        )
    return replace(
        streak,
        length=length,
        started=streak.started if length else None,
        freezes=freezes,
        period=next_period(start, streak.frequency),
        progress={},
        met=False,
        reset_at=None,
    )


def _end_run(streak: Streak, ended: date) -> Streak:
    """Remember the streak that ends now, dropping runs it outlasts or that are too old."""
    run = EndedRun(streak.length, streak.started, ended)
    horizon = ended - _RUN_MEMORY
    kept = tuple(r for r in streak.ended_runs if r.length > run.length and r.ended >= horizon)
    return replace(streak, ended_runs=(*kept, run))


def _earn(streak: Streak, rules: StreakRules, until: datetime, log: _Log) -> Streak:
    """Credit auto-earned freezes due at or before ``until``."""
    policy = rules.freezes
    if policy is None or not policy.auto_earn_interval_days or not policy.auto_earn_amount:
        return streak
    if streak.earned_at is None:
        return replace(streak, earned_at=until)  # freezes were enabled after the user arrived
    amount, interval = policy.auto_earn_amount, timedelta(days=policy.auto_earn_interval_days)
    due = (until - streak.earned_at) // interval
    if due <= 0:
        return streak
    freezes, earned_at = streak.freezes, streak.earned_at
    for _ in range(due):
        earned_at += interval
        if freezes >= policy.max_count:
            # At the cap further intervals change nothing: jump to the last one.
            earned_at = streak.earned_at + due * interval
            break
        gained = min(amount, policy.max_count - freezes)
        freezes += gained
        log.transitions.append(Transition("streak.freeze_earned", earned_at, 0, gained, freezes))
    return replace(streak, freezes=freezes, earned_at=earned_at)


# ---------------------------------------------------------------------------------------------
# Commands


def on_identified(streak: Streak, rules: StreakRules, at: datetime) -> Step:
    """A user's first identification: the initial freezes, and auto-earn counts from now."""
    policy = rules.freezes
    if policy is None:
        return Step(streak)
    freezes = min(policy.start_count, policy.max_count)
    streak = replace(streak, freezes=freezes, earned_at=at)
    earned = (Transition("streak.freeze_earned", at, 0, freezes, freezes),) if freezes else ()
    return Step(streak, earned)


def satisfied(rules: StreakRules, progress: Mapping[str, float]) -> bool:
    """Whether ``progress`` meets the period's conditions (never, with no streak metrics)."""
    if not rules.metrics:
        return False
    met = (progress.get(key, 0.0) >= threshold for key, threshold in rules.metrics)
    return all(met) if rules.evaluation_mode == "AND" else any(met)


def record_activity(
    streak: Streak, rules: StreakRules, metric_key: str, value: float, at: datetime
) -> Step:
    """Add a metric event (already advanced to ``at``) to the open period.

    The first event that meets the period's conditions extends the streak; a period once met
    stays met, even if later negative values take the change below the threshold.
    """
    if not rules.enabled or metric_key not in dict(rules.metrics):
        return Step(streak)
    progress = {**streak.progress, metric_key: streak.progress.get(metric_key, 0.0) + value}
    streak = replace(streak, progress=progress)
    if streak.met or not satisfied(rules, progress):
        return Step(streak)
    length = streak.length + 1
    transitions: list[Transition] = []
    started = streak.started
    if streak.length == 0:
        started = streak.period
        transitions.append(Transition("streak.started", at, length))
    transitions.append(Transition("streak.extended", at, length))
    streak = replace(
        streak,
        length=length,
        longest=max(streak.longest, length),
        started=started,
        extended_at=at,
        met=True,
    )
    return Step(streak, tuple(transitions))


class StreakRuleError(ValueError):
    """An admin operation that cannot apply (the message says why)."""


def grant_freezes(streak: Streak, rules: StreakRules, count: int, at: datetime) -> Step:
    """An admin grant of ``count`` freezes, up to the maximum."""
    policy = rules.freezes
    if policy is None:
        raise StreakRuleError("streak freezes are not enabled")
    freezes = min(streak.freezes + count, policy.max_count)
    gained = freezes - streak.freezes
    streak = replace(streak, freezes=freezes)
    if not gained:
        return Step(streak)
    return Step(streak, (Transition("streak.freeze_earned", at, 0, gained, freezes),))


def add_pause(streak: Streak, pause: Pause, today: date) -> Streak:
    """Add a pause; its start may not lie before the user's ``today``."""
    if pause.start < today:
        raise StreakRuleError(
            f"start {pause.start.isoformat()} is in the past for this user "
            f"(today is {today.isoformat()} in the user's time zone)"
        )
    if pause.end < pause.start:
        raise StreakRuleError("end must be on or after start")
    return replace(streak, pauses=(*streak.pauses, pause))


def remove_pause(streak: Streak, pause_id: uuid.UUID) -> Streak:
    """The streak without the pause ``pause_id`` (periods it covered keep ``usedPause``)."""
    if all(p.id != pause_id for p in streak.pauses):
        raise StreakRuleError(f"Streak pause {pause_id} not found")
    return replace(streak, pauses=tuple(p for p in streak.pauses if p.id != pause_id))


def restore_window_start(frequency: Frequency, today: date, week_start: int = MONDAY) -> date:
    """The earliest date a restore looks back to (Trophy's documented windows)."""
    if frequency == "daily":
        return today - timedelta(days=RESTORE_DAYS)
    if frequency == "weekly":
        return period_start(date(today.year, 1, 1), "weekly", week_start)
    return date(today.year - 1, 1, 1)


def restore(streak: Streak, rules: StreakRules, today: date) -> Streak:
    """Bring back the longest streak that ended inside the restore window.

    Raises :class:`StreakRuleError` when none is longer than the current one.
    """
    since = restore_window_start(streak.frequency, today, rules.settings.week_start)
    candidates = [r for r in streak.ended_runs if r.ended >= since and r.length > streak.length]
    if not candidates:
        raise StreakRuleError("no longer streak ended inside the restore window")
    best = max(candidates, key=lambda r: (r.length, r.ended))
    return replace(
        streak,
        length=best.length,
        longest=max(streak.longest, best.length),
        started=best.started,
        ended_runs=tuple(r for r in streak.ended_runs if r.ended > best.ended),
    )


def reset(streak: Streak, at: datetime) -> Streak:
    """Set the streak to zero (the run is remembered, so a restore can bring it back)."""
    if streak.length and streak.period is not None:
        streak = _end_run(streak, streak.period)
    return replace(streak, length=0, started=None, met=False, reset_at=at)


def disable(streak: Streak) -> Streak:
    """Streaks switched off for a user: the length is 0 until they are on again."""
    return replace(streak, length=0, started=None, met=False)


# ---------------------------------------------------------------------------------------------
# Reading


@dataclass(frozen=True)
class StreakView:
    """Trophy's ``BaseStreakResponse`` fields, computed for one instant."""

    length: int
    frequency: Frequency
    started: date | None
    period_start: date
    period_end: date
    expires: date | None
    extended_at: datetime | None
    freezes: FreezePolicy | None
    freeze_count: int


def view(streak: Streak, rules: StreakRules) -> StreakView:
    """The streak as a response shows it (``streak`` already advanced to the instant)."""
    assert streak.period is not None
    length = streak.length if rules.enabled else 0
    end = period_end(streak.period, streak.frequency)
    expires: date | None = None
    if length:
        # The last date the user can act and keep the streak without a freeze: the end of this
        # period if it is not met yet, otherwise of the next one, skipping days off.
        start = next_period(streak.period, streak.frequency) if streak.met else streak.period
        while streak.frequency == "daily" and weekday(start) in rules.days_off:
            start = next_period(start, streak.frequency)
        expires = period_end(start, streak.frequency)
    return StreakView(
        length=length,
        frequency=streak.frequency,
        started=streak.started if length else None,
        period_start=streak.period,
        period_end=end,
        expires=expires,
        extended_at=streak.extended_at if length else None,
        freezes=rules.freezes,
        freeze_count=streak.freezes,
    )


def current_record(streak: Streak) -> PeriodRecord:
    """The open period as a history entry."""
    assert streak.period is not None
    return PeriodRecord(
        streak.frequency,
        streak.period,
        period_end(streak.period, streak.frequency),
        streak.length,
        reset_at=streak.reset_at,
    )


def history(
    streak: Streak, stored: Mapping[date, PeriodRecord], periods: int
) -> list[PeriodRecord]:
    """The last ``periods`` periods up to and including the open one, oldest first; periods
    without a record are broken ones (length 0)."""
    assert streak.period is not None
    out = [current_record(streak)]
    start = streak.period
    while len(out) < periods:
        start = previous_period(start, streak.frequency)
        out.append(
            stored.get(start)
            or PeriodRecord(streak.frequency, start, period_end(start, streak.frequency), 0)
        )
    return out[::-1]


def history_start(streak: Streak, periods: int) -> date:
    """The first day of the oldest of the last ``periods`` periods (the open one included)."""
    assert streak.period is not None
    start = streak.period
    for _ in range(periods - 1):
        start = previous_period(start, streak.frequency)
    return start


def next_due(streak: Streak, rules: StreakRules, tz: str | None) -> datetime | None:
    """When the scheduler should next advance this streak: the end of the first period that
    could break it, or the next auto-earn instant; ``None`` when nothing is pending."""
    candidates: list[datetime] = []
    if streak.period is not None and streak.length > 0:
        start = next_period(streak.period, streak.frequency) if streak.met else streak.period
        candidates.append(start_of_day(next_period(start, streak.frequency), tz))
    policy = rules.freezes
    if (
        policy is not None
        and policy.auto_earn
        and policy.auto_earn_interval_days
        and streak.earned_at is not None
        and streak.freezes < policy.max_count
    ):
        candidates.append(streak.earned_at + timedelta(days=policy.auto_earn_interval_days))
    return min(candidates) if candidates else None
