"""The rewards step every command ends with: achievements completed, then points awarded.

The fold calls :func:`apply_rewards` after a command changed a user's totals, streak or profile,
saying what happened (a metric event, streak lengths reached, a first identification, an API
completion, a backdate). It completes achievements, runs the points triggers on what happened,
and settles levels; what changed comes back as data (the store renders Trophy's shapes).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from projections.core import points as pts
from projections.core.achievements import (
    Achievement,
    Completion,
    Progress,
    anniversary,
    newly_completed,
)
from projections.core.model import AchievementRules, ConfigHistory, PointsConfig, UserState
from projections.core.periods import start_of_day
from projections.core.values import replace
from projections.core.zones import local_date


class OutOfPoints(ValueError):
    """A blocking trigger would take a points total below zero (the message names it)."""


@dataclass(frozen=True)
class Happened:
    """What the command did that rewards may react to."""

    metric_id: uuid.UUID | None = None
    value: float = 0.0
    event_attributes: Mapping[str, str] | None = None
    streak_lengths: tuple[int, ...] = ()
    """Lengths the streak reached (each extension, or a restore)."""
    created: bool = False
    complete: Achievement | None = None
    """An ``api`` achievement to complete (``POST /v1/achievements/{key}/complete``)."""
    backdate: uuid.UUID | None = None
    """Complete this achievement if the user qualifies, without notifications."""


@dataclass(frozen=True, slots=True)
class AwardRecord:
    """An award with the user's local day (boosts show their status on it)."""

    award: pts.Award
    day: date


@dataclass(frozen=True, slots=True)
class PointsChange:
    """What one command did to one points system: its awards, the system's total after them,
    and the level where it changed."""

    system: pts.PointsSystem
    added: int
    total: int
    awards: tuple[AwardRecord, ...]
    level: pts.LevelChange | None = None


@dataclass(frozen=True, slots=True)
class RewardsResult:
    """The user's state after the rewards step, and what it completed, awarded and changed."""

    state: UserState
    completions: tuple[Completion, ...] = ()
    awards: tuple[AwardRecord, ...] = ()
    levels: tuple[pts.LevelChange, ...] = ()
    points: tuple[PointsChange, ...] = ()
    """The systems this command changed, in the order of their first award."""


def candidates(rules: AchievementRules, happened: Happened) -> list[Achievement]:
    """The achievements this command may complete (composites are always looked at)."""
    if happened.backdate is not None:
        return [a for a in rules.live if a.trigger == "achievement" or a.id == happened.backdate]
    found = [*rules.composites, *rules.anniversaries]
    if happened.metric_id is not None:
        found += rules.by_metric.get(happened.metric_id, ())
    if happened.streak_lengths:
        found += rules.streak
    return found


def apply_rewards(
    state: UserState,
    config: ConfigHistory,
    command_id: uuid.UUID,
    at: datetime,
    happened: Happened,
) -> RewardsResult:
    """Complete achievements and award points for ``happened``, command ``command_id`` at
    ``at``; raise :class:`OutOfPoints` when a blocking trigger refuses the command."""
    profile = state.profile
    assert profile is not None
    tenant = state.tenant
    tz = profile.tz
    attributes = profile.attributes
    streak_length = state.streak.length if state.preferences.streak.enabled else 0
    progress = Progress(
        totals=state.totals,
        streak_length=streak_length,
        user_attributes=attributes,
        sign_up=profile.sign_up_date,
        today=local_date(at, tz),
        completed=state.achievements,
    )
    rules = config.achievement_rules_at(tenant, at)
    completions = newly_completed(
        candidates(rules, happened),
        progress,
        at,
        happened.event_attributes,
        backdated=happened.backdate is not None,
    )
    if happened.complete is not None:
        completions.insert(0, Completion(happened.complete, at))
        completions += newly_completed(
            rules.composites,
            replace(progress, completed={**state.achievements, happened.complete.id: at}),
            at,
        )
    achieved = {**state.achievements, **{c.achievement.id: c.at for c in completions}}

    pc = config.points_at(tenant, at)
    ctx = pts.Context(state.user_id, attributes, progress.today, at)
    ledger = pts.Ledger(
        pts.start_timers(state.points, pc.timed, at), pc.systems, pc.boosts, command_id
    )
    # In the order things happened: the user appears, time passes, the event counts, and what
    # it completed or extended pays out. Each step looks only at the triggers it can fire.
    pts.event_awards(ledger, pc.on_events, ctx, created=happened.created)
    pts.time_awards(ledger, pc.timed, ctx)
    if happened.metric_id is not None:
        attributes = happened.event_attributes or {}
        triggers = pc.by_metric.get(happened.metric_id, ())
        pts.metric_awards(ledger, triggers, happened.metric_id, happened.value, attributes, ctx)
    pts.event_awards(
        ledger,
        pc.on_events,
        ctx,
        achievements=[c.achievement.id for c in completions],
        streak_lengths=happened.streak_lengths,
    )
    if ledger.blocked:
        raise OutOfPoints(
            f"Not enough points: this event would take {', '.join(sorted(set(ledger.blocked)))} "
            "below zero"
        )
    touched = list(dict.fromkeys(a.system_id for a in ledger.awards))
    points_state, levels = pts.settle_levels(ledger.state, pc.levels, touched)
    new_state = replace(state, achievements=achieved, points=points_state)
    records = tuple(AwardRecord(a, progress.today) for a in ledger.awards)
    return RewardsResult(
        state=new_state,
        completions=tuple(completions),
        awards=records,
        levels=tuple(levels),
        points=_points_changes(pc, records, levels, points_state),
    )


def _points_changes(
    pc: PointsConfig,
    records: Iterable[AwardRecord],
    levels: Iterable[pts.LevelChange],
    state: pts.PointsState,
) -> tuple[PointsChange, ...]:
    by_system: dict[uuid.UUID, list[AwardRecord]] = {}
    for record in records:
        by_system.setdefault(record.award.system_id, []).append(record)
    changed_levels = {c.system_id: c for c in levels}
    return tuple(
        PointsChange(
            system=pc.systems[system_id],
            added=sum(r.award.awarded for r in awards),
            total=state.totals.get(system_id, 0),
            awards=tuple(awards),
            level=changed_levels.get(system_id),
        )
        for system_id, awards in by_system.items()
    )


def next_reward_due(state: UserState, config: ConfigHistory, at: datetime) -> datetime | None:
    """When the scheduler should next look at this user for rewards: the next time-trigger
    interval, or the first instant of an anniversary not completed yet."""
    profile = state.profile
    if profile is None:
        return None
    pc = config.points_at(state.tenant, at)
    due = [pts.next_timer(state.points, pc.timed)]
    for achievement in config.achievement_rules_at(state.tenant, at).anniversaries:
        if achievement.live and achievement.id not in state.achievements:
            day = anniversary(achievement, profile.sign_up_date)
            # Only future ones: one that passed uncompleted (its filters did not match) must not
            # be sent again and again.
            if day is not None and (instant := start_of_day(day, profile.tz)) > at:
                due.append(instant)
    found = [d for d in due if d is not None]
    return min(found) if found else None
