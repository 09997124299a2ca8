"""The rewards step every command ends with: achievements completed, then points awarded.

The fold calls :func:`apply_rewards` after a command changed a user's totals, streak or profile,
saying what happened (a metric event, streak lengths reached, a first identification, an API
completion, a backdate). It completes achievements, runs the points triggers on what happened,
settles levels, and renders the answer's ``achievements`` and ``points`` in Trophy's shapes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from projections.core import points as pts
from projections.core.achievements import (
    Achievement,
    Completion,
    Progress,
    anniversary,
    newly_completed,
)
from projections.core.model import ConfigHistory, PointsConfig, UserState
from projections.core.periods import start_of_day
from projections.core.wire import (
    achievement_json,
    boost_json,
    level_json,
    points_system_json,
    trigger_json,
)
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


@dataclass(frozen=True)
class AwardRecord:
    """An award with the user's local day and its ``PointsAward`` JSON, for the history."""

    award: pts.Award
    day: date
    body: Mapping[str, Any]


@dataclass(frozen=True)
class RewardsResult:
    state: UserState
    completions: tuple[Completion, ...] = ()
    awards: tuple[AwardRecord, ...] = ()
    levels: tuple[pts.LevelChange, ...] = ()
    achievements_json: tuple[Mapping[str, Any], ...] = ()
    points_json: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def _candidates(happened: Happened) -> Callable[[Achievement], bool]:
    """Which achievements this command may complete (composites are always looked at)."""

    def consider(a: Achievement) -> bool:
        if happened.backdate is not None:
            return a.id == happened.backdate
        if a.trigger == "metric":
            return a.metric_id is not None and a.metric_id == happened.metric_id
        if a.trigger == "streak":
            return bool(happened.streak_lengths)
        return a.trigger == "anniversary"

    return consider


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
    live = config.achievements_at(tenant, at)
    consider = _candidates(happened)
    candidates = [a for a in live if a.trigger == "achievement" or consider(a)]
    completions = newly_completed(
        candidates, progress, at, happened.event_attributes, backdated=happened.backdate is not None
    )
    if happened.complete is not None:
        completions.insert(0, Completion(happened.complete, at))
        completions += newly_completed(
            [a for a in live if a.trigger == "achievement"],
            replace(progress, completed={**state.achievements, happened.complete.id: at}),
            at,
        )
    achieved = {**state.achievements, **{c.achievement.id: c.at for c in completions}}

    pc = config.points_at(tenant, at)
    ctx = pts.Context(state.user_id, attributes, progress.today, at)
    ledger = pts.Ledger(
        pts.start_timers(state.points, pc.triggers, at), pc.systems, pc.boosts, command_id
    )
    # In the order things happened: the user appears, time passes, the event counts, and what
    # it completed or extended pays out.
    pts.event_awards(ledger, pc.triggers, ctx, created=happened.created)
    pts.time_awards(ledger, pc.triggers, ctx)
    if happened.metric_id is not None:
        attributes = happened.event_attributes or {}
        pts.metric_awards(ledger, pc.triggers, happened.metric_id, happened.value, attributes, ctx)
    pts.event_awards(
        ledger,
        pc.triggers,
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
    names = Names(config, tenant, at)
    records = tuple(
        AwardRecord(a, progress.today, award_json(a, names, progress.today)) for a in ledger.awards
    )
    return RewardsResult(
        state=new_state,
        completions=tuple(completions),
        awards=records,
        levels=tuple(levels),
        achievements_json=tuple(
            {**names.achievement(c.achievement), "achievedAt": _iso(c.at)} for c in completions
        ),
        points_json=_points_json(pc, records, levels, points_state),
    )


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Names:
    """Renders achievements and triggers with the names in force at ``at``."""

    config: ConfigHistory
    tenant: str
    at: datetime

    def metric(self, metric_id: uuid.UUID | None) -> str | None:
        for m in self.config.metrics:
            if m.tenant == self.tenant and m.id == metric_id and m.holds_at(self.at):
                return m.name
        return None

    def achievement_name(self, achievement_id: uuid.UUID | None) -> str | None:
        for a in self.config.achievements_at(self.tenant, self.at):
            if a.id == achievement_id:
                return a.name
        return None

    def achievement(self, a: Achievement) -> dict[str, Any]:
        return achievement_json(a, self.metric(a.metric_id))

    def trigger(self, t: pts.PointsTrigger) -> dict[str, Any]:
        return trigger_json(t, self.metric(t.metric_id), self.achievement_name(t.achievement_id))


def award_json(award: pts.Award, names: Names, today: date) -> dict[str, Any]:
    """Trophy's ``PointsAward``."""
    return {
        "id": str(award.id),
        "awarded": award.awarded,
        "date": _iso(award.at),
        "total": award.total,
        "trigger": names.trigger(award.trigger),
        "boosts": [boost_json(b, today) for b in award.boosts],
    }


def _points_json(
    pc: PointsConfig,
    records: Iterable[AwardRecord],
    levels: Iterable[pts.LevelChange],
    state: pts.PointsState,
) -> dict[str, dict[str, Any]]:
    """The event answer's ``points``: only systems this command changed; ``level`` only where
    it changed."""
    out: dict[str, dict[str, Any]] = {}
    changed_levels = {c.system_id: c for c in levels}
    for record in records:
        system = pc.systems[record.award.system_id]
        entry = out.setdefault(
            system.key,
            {**points_system_json(system), "total": 0, "added": 0, "awards": []},
        )
        entry["added"] += record.award.awarded
        entry["total"] = state.totals.get(system.id, 0)
        entry["awards"].append(record.body)
        if system.id in changed_levels:
            entry["level"] = level_json(changed_levels[system.id].current)
    return out


def next_reward_due(state: UserState, config: ConfigHistory, at: datetime) -> datetime | None:
    """When the scheduler should next look at this user for rewards: the next time-trigger
    interval, or the first instant of an anniversary not completed yet."""
    profile = state.profile
    if profile is None:
        return None
    pc = config.points_at(state.tenant, at)
    candidates = [pts.next_timer(state.points, pc.triggers)]
    for a in config.achievements_at(state.tenant, at):
        if a.trigger == "anniversary" and a.live and a.id not in state.achievements:
            day = anniversary(a, profile.sign_up_date)
            # Only future ones: one that passed uncompleted (its filters did not match) must not
            # be sent again and again.
            if day is not None and (instant := start_of_day(day, profile.tz)) > at:
                candidates.append(instant)
    found = [c for c in candidates if c is not None]
    return min(found) if found else None
