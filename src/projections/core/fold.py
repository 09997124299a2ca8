"""Folding commands into user state: the rules the processor, replay and tests all run."""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, TypeAlias

from projections.core import leaderboards, streaks
from projections.core import notices as lifecycle
from projections.core.achievements import Completion, filters_match
from projections.core.commands import (
    ChangeStreak,
    Command,
    CompleteAchievement,
    RecordMetricEvent,
    Tick,
    UpdatePreferences,
    UpsertUser,
)
from projections.core.model import ConfigHistory, Preferences, UserKey, UserState
from projections.core.outcomes import (
    AchievementCompleted,
    CommandRejected,
    MetricEventRecorded,
    Outcome,
    PreferencesUpdated,
    StreakChanged,
    UserUpserted,
)
from projections.core.points import LevelChange
from projections.core.rewards import (
    AwardRecord,
    Happened,
    OutOfPoints,
    RewardsResult,
    apply_rewards,
    next_reward_due,
)
from projections.core.streaks import Pause, PeriodRecord, StreakRuleError, StreakRules, Transition
from projections.core.users import apply_patch, apply_streak_patch
from projections.core.validation import (
    RuleViolation,
    check_attribute_keys,
    check_metric_event,
    check_streak_metrics,
)
from projections.core.values import replace
from projections.core.zones import local_date

IdempotencyKey = tuple[str, str, str, str]
"""(tenant, user id, metric key, idempotency key): Trophy scopes keys per user and metric."""

DailyKey = tuple[str, str, uuid.UUID, date]
"""(tenant, user id, metric id, local date)."""


@dataclass(frozen=True)
class Projection:
    """The part of the projection a batch touches.

    ``users`` holds the state of every user the batch names (absent users start empty);
    ``decided`` the ids of commands already decided, and ``idempotency`` the keys already
    used, each restricted to those the batch could hit.
    """

    users: Mapping[UserKey, UserState] = field(default_factory=dict)
    decided: frozenset[tuple[str, uuid.UUID]] = frozenset()
    idempotency: Mapping[IdempotencyKey, uuid.UUID] = field(default_factory=dict)


PauseStatus: TypeAlias = Literal["active", "archived"]


@dataclass(frozen=True)
class Decision:
    """One command and what the rules decided about it."""

    command: Command
    outcome: Outcome


@dataclass(frozen=True)
class StreakEffects:
    """What a batch did to streaks besides their states: transitions (for webhooks), closed
    periods (the history), pauses added or archived, and when each user is next due."""

    transitions: Sequence[tuple[UserKey, uuid.UUID, Transition]] = ()
    periods: Sequence[tuple[UserKey, PeriodRecord]] = ()
    pauses: Sequence[tuple[UserKey, Pause, PauseStatus]] = ()
    due: Mapping[UserKey, datetime | None] = field(default_factory=dict)


@dataclass(frozen=True)
class RewardEffects:
    """Achievements completed, points awarded and levels changed by a batch, per user and
    command."""

    completions: Sequence[tuple[UserKey, uuid.UUID, Completion]] = ()
    awards: Sequence[tuple[UserKey, uuid.UUID, AwardRecord]] = ()
    levels: Sequence[tuple[UserKey, uuid.UUID, LevelChange]] = ()


@dataclass(frozen=True)
class BatchResult:
    """The changes a batch makes: new user states, daily deltas, new idempotency keys, streak
    effects and one decision per command not decided before (duplicates of decided commands are
    dropped)."""

    users: Mapping[UserKey, UserState]
    changed_totals: frozenset[tuple[UserKey, uuid.UUID]]
    daily: Mapping[DailyKey, float]
    idempotency: Mapping[IdempotencyKey, uuid.UUID]
    decisions: Sequence[Decision]
    streaks: StreakEffects = StreakEffects()
    rewards: RewardEffects = RewardEffects()
    leaderboards: Sequence[tuple[UserKey, uuid.UUID, leaderboards.EntryChange]] = ()
    """Leaderboard entries changed, per user and command."""
    notices: Sequence[tuple[UserKey, uuid.UUID, lifecycle.Due]] = ()
    """What fell due, per user and the command that released it: ``points.changed`` and the
    lifecycle emails the user takes."""


@dataclass(frozen=True, slots=True)
class Effects:
    """What one command did besides changing the state (kept only if the command applies).
    The rules return theirs and the caller adds them up, in the order they happened."""

    transitions: tuple[Transition, ...] = ()
    periods: tuple[PeriodRecord, ...] = ()
    pauses: tuple[tuple[Pause, PauseStatus], ...] = ()
    completions: tuple[Completion, ...] = ()
    awards: tuple[AwardRecord, ...] = ()
    levels: tuple[LevelChange, ...] = ()

    def __add__(self, later: Effects) -> Effects:
        if later is NO_EFFECTS:  # most steps do nothing besides the state: skip the copy
            return self
        if self is NO_EFFECTS:
            return later
        return Effects(
            self.transitions + later.transitions,
            self.periods + later.periods,
            self.pauses + later.pauses,
            self.completions + later.completions,
            self.awards + later.awards,
            self.levels + later.levels,
        )

    @classmethod
    def of_step(cls, step: streaks.Step) -> Effects:
        """What a streak step did."""
        if not step.transitions and not step.periods:
            return NO_EFFECTS
        return cls(transitions=step.transitions, periods=step.periods)

    @classmethod
    def of_rewards(cls, result: RewardsResult) -> Effects:
        """What the rewards step did."""
        if not result.completions and not result.awards and not result.levels:
            return NO_EFFECTS
        return cls(completions=result.completions, awards=result.awards, levels=result.levels)

    def streak_lengths(self) -> tuple[int, ...]:
        """The lengths the streak reached through this command's extensions."""
        return tuple(t.length for t in self.transitions if t.kind == "streak.extended")


NO_EFFECTS = Effects()


def fold(projection: Projection, commands: Sequence[Command], config: ConfigHistory) -> BatchResult:  # noqa: C901 (one branch per command type)
    """Apply ``commands`` in order to ``projection`` under ``config``."""
    users = dict(projection.users)
    decided = set(projection.decided)
    idempotency = dict(projection.idempotency)
    new_keys: dict[IdempotencyKey, uuid.UUID] = {}
    daily: dict[DailyKey, float] = {}
    changed_users: set[UserKey] = set()
    changed_totals: set[tuple[UserKey, uuid.UUID]] = set()
    decisions: list[Decision] = []
    transitions: list[tuple[UserKey, uuid.UUID, Transition]] = []
    periods: list[tuple[UserKey, PeriodRecord]] = []
    pauses: list[tuple[UserKey, Pause, PauseStatus]] = []
    completions: list[tuple[UserKey, uuid.UUID, Completion]] = []
    awards: list[tuple[UserKey, uuid.UUID, AwardRecord]] = []
    levels: list[tuple[UserKey, uuid.UUID, LevelChange]] = []
    changed_at: dict[UserKey, datetime] = {}
    entries: list[tuple[UserKey, uuid.UUID, leaderboards.EntryChange]] = []
    released: list[tuple[UserKey, uuid.UUID, lifecycle.Due]] = []

    for command in commands:
        if (command.tenant, command.id) in decided:
            continue  # the same command reached the topic twice: it counts once
        decided.add((command.tenant, command.id))
        key = (command.tenant, command.user_id)
        state = users.get(key) or UserState(command.tenant, command.user_id)
        outcome: Outcome
        try:
            if isinstance(command, RecordMetricEvent):
                state, recorded, effects = _metric_event(state, command, config, idempotency)
                outcome = recorded
                if not recorded.replayed:
                    changed_totals.add((key, recorded.metric_id))
                    day_key = (command.tenant, command.user_id, recorded.metric_id, recorded.day)
                    daily[day_key] = daily.get(day_key, 0.0) + command.value
                    if command.idempotency_key is not None:
                        idem = (
                            command.tenant,
                            command.user_id,
                            command.metric_key,
                            command.idempotency_key,
                        )
                        idempotency[idem] = new_keys[idem] = command.id
            elif isinstance(command, UpsertUser):
                state, outcome, effects = _upsert_user(state, command, config)
            elif isinstance(command, UpdatePreferences):
                state, outcome, effects = _update_preferences(state, command, config)
            elif isinstance(command, CompleteAchievement):
                state, outcome, effects = _complete_achievement(state, command, config)
            else:
                state, outcome, effects = _change_streak(state, command, config)
        except OutOfPoints as refused:
            decisions.append(
                Decision(command, CommandRejected(command.id, "refused", str(refused)))
            )
            continue
        except RuleViolation as violation:
            rejection = CommandRejected(command.id, violation.code, str(violation))
            decisions.append(Decision(command, rejection))
            continue
        before = users.get(key) or UserState(command.tenant, command.user_id)
        state, ranked = _leaderboards(before, state, config, command.received_at)
        if ranked and isinstance(outcome, MetricEventRecorded):
            outcome = replace(outcome, leaderboards=tuple(ranked))
        entries.extend((key, command.id, change) for change in ranked)
        state, due_now = _notices(state, outcome, effects, config, command.received_at)
        released.extend((key, command.id, n) for n in due_now)
        if state is not users.get(key):
            users[key] = state
            changed_users.add(key)
            changed_at[key] = command.received_at
        transitions.extend((key, command.id, t) for t in effects.transitions)
        periods.extend((key, p) for p in effects.periods)
        pauses.extend((key, p, status) for p, status in effects.pauses)
        completions.extend((key, command.id, c) for c in effects.completions)
        awards.extend((key, command.id, a) for a in effects.awards)
        levels.extend((key, command.id, lv) for lv in effects.levels)
        decisions.append(Decision(command, outcome))

    due: dict[UserKey, datetime | None] = {}
    for key in changed_users:
        state = users[key]
        at = changed_at[key]
        timing = _timing(state, config, at)
        found = [
            streaks.next_due(state.streak, timing.rules, timing.tz),
            next_reward_due(state, config, at),
            lifecycle.next_due(state.notices, timing),
        ]
        due[key] = min((d for d in found if d is not None), default=None)
    return BatchResult(
        users={k: users[k] for k in changed_users},
        changed_totals=frozenset(changed_totals),
        daily=daily,
        idempotency=new_keys,
        decisions=decisions,
        streaks=StreakEffects(transitions, periods, pauses, due),
        rewards=RewardEffects(completions, awards, levels),
        leaderboards=entries,
        notices=released,
    )


def merged(parts: Sequence[BatchResult]) -> BatchResult:
    """The result of folding the commands of every part at once, when the parts were folded
    apart and each names users no other part names (and commands no other part holds): each
    user's rows and effects come from the one part that has them, in that part's order."""
    if len(parts) == 1:
        return parts[0]
    return BatchResult(
        users={k: v for p in parts for k, v in p.users.items()},
        changed_totals=frozenset().union(*(p.changed_totals for p in parts)),
        daily={k: v for p in parts for k, v in p.daily.items()},
        idempotency={k: v for p in parts for k, v in p.idempotency.items()},
        decisions=[d for p in parts for d in p.decisions],
        streaks=StreakEffects(
            [t for p in parts for t in p.streaks.transitions],
            [r for p in parts for r in p.streaks.periods],
            [r for p in parts for r in p.streaks.pauses],
            {k: v for p in parts for k, v in p.streaks.due.items()},
        ),
        rewards=RewardEffects(
            [c for p in parts for c in p.rewards.completions],
            [a for p in parts for a in p.rewards.awards],
            [lv for p in parts for lv in p.rewards.levels],
        ),
        leaderboards=[e for p in parts for e in p.leaderboards],
        notices=[n for p in parts for n in p.notices],
    )


def _timing(state: UserState, config: ConfigHistory, at: datetime) -> lifecycle.Timing:
    return lifecycle.Timing(_tz(state), state.streak, _rules(state, config, at))


def _notices(
    state: UserState, outcome: Outcome, effects: Effects, config: ConfigHistory, at: datetime
) -> tuple[UserState, tuple[lifecycle.Due, ...]]:
    """Release what fell due by ``at`` (lifecycle emails, closed ``points.changed`` windows) and
    record what the command started: activity, completions, points changes (sent at once when
    no window is open). Emails only for a user who takes them."""
    profile = state.profile
    if profile is None:
        return state, ()
    timing = _timing(state, config, at)
    pending, emails = lifecycle.release(state.notices, timing, at)
    pending, points = lifecycle.release_points(pending, at)
    if isinstance(outcome, MetricEventRecorded) and not outcome.replayed:
        pending = lifecycle.on_activity(pending, timing, at)
    for completion in effects.completions:
        if not completion.backdated:
            pending = lifecycle.on_completion(
                pending, completion.achievement.id, completion.at, timing.tz
            )
    for change in _points_changes(state, effects, at):
        pending, sent = lifecycle.on_points(pending, change)
        points += (sent,) if sent is not None else ()
    if pending != state.notices:
        state = replace(state, notices=pending)
    channels = state.preferences.notifications
    told = tuple(
        n for n in emails if lifecycle.wanted(n.kind, profile.subscribe_to_emails, channels)
    )
    return state, (*points, *told)


def _points_changes(
    state: UserState, effects: Effects, at: datetime
) -> list[lifecycle.PointsWindow]:
    """What one command did to each points system, as a window's worth of change."""
    awards: dict[uuid.UUID, list[AwardRecord]] = {}
    for record in effects.awards:
        awards.setdefault(record.award.system_id, []).append(record)
    leveled = {change.system_id for change in effects.levels}
    return [
        lifecycle.PointsWindow(
            system_id,
            at,
            added=sum(r.award.awarded for r in records),
            total=records[-1].award.total,
            awards=tuple(r.award.id for r in records),
            level=state.points.levels.get(system_id),
            level_changed=system_id in leveled,
        )
        for system_id, records in awards.items()
    ]


def _leaderboards(
    before: UserState, after: UserState, config: ConfigHistory, at: datetime
) -> tuple[UserState, list[leaderboards.EntryChange]]:
    """The user's leaderboard entries after a command changed ``before`` into ``after``."""
    boards = config.leaderboards_at(after.tenant, at)
    if after.profile is None or not boards:
        return after, []
    moved = leaderboards.movement(
        before.totals,
        after.totals,
        before.points.totals,
        after.points.totals,
        before.streak.length,
        after.streak.length,
    )
    profile = after.profile
    held, changes = leaderboards.step(
        after.leaderboards, boards, moved, profile.attributes, profile.tz, at
    )
    if not changes:
        return after, []
    return replace(after, leaderboards=held), changes


def _tz(state: UserState) -> str | None:
    return state.profile.tz if state.profile is not None else None


def _rules(state: UserState, config: ConfigHistory, at: datetime) -> StreakRules:
    return streaks.rules_for(config.streak_at(state.tenant, at), state.preferences.streak)


def _advance(
    state: UserState, config: ConfigHistory, at: datetime
) -> tuple[UserState, StreakRules, Effects]:
    """Bring the user's streak to ``at`` under the rules then in force (existing users only)."""
    rules = _rules(state, config, at)
    if state.profile is None:
        return state, rules, NO_EFFECTS
    step = streaks.advance(state.streak, rules, _tz(state), at)
    if step.streak is state.streak:
        return state, rules, Effects.of_step(step)
    return replace(state, streak=step.streak), rules, Effects.of_step(step)


def _identified(
    state: UserState, rules: StreakRules, existed: bool, at: datetime
) -> tuple[UserState, Effects]:
    """After a command that may have created the user: first identification grants freezes."""
    if existed:
        return state, NO_EFFECTS
    advanced = streaks.advance(state.streak, rules, _tz(state), at)
    identified = streaks.on_identified(advanced.streak, rules, at)
    effects = Effects.of_step(advanced) + Effects.of_step(identified)
    return replace(state, streak=identified.streak), effects


def _rewarded(
    state: UserState, config: ConfigHistory, command_id: uuid.UUID, at: datetime, happened: Happened
) -> tuple[RewardsResult, Effects]:
    result = apply_rewards(state, config, command_id, at, happened)
    return result, Effects.of_rewards(result)


def _metric_event(
    state: UserState,
    event: RecordMetricEvent,
    config: ConfigHistory,
    idempotency: Mapping[IdempotencyKey, uuid.UUID],
) -> tuple[UserState, MetricEventRecorded, Effects]:
    metric = check_metric_event(
        config,
        event.tenant,
        event.metric_key,
        event.attributes,
        event.user.attributes,
        event.received_at,
    )
    if (
        event.idempotency_key is not None
        and (event.tenant, event.user_id, event.metric_key, event.idempotency_key) in idempotency
    ):
        # A repeated key changes nothing at all, not even the inline user fields.
        profile = state.profile
        return (
            state,
            MetricEventRecorded(
                command_id=event.id,
                metric_id=metric.id,
                metric_key=metric.key,
                total=state.totals.get(metric.id, 0.0),
                day=local_date(event.received_at, profile.tz if profile else None),
                idempotency_key=event.idempotency_key,
                replayed=True,
                streak=_current_view(state, config, event.received_at),
            ),
            NO_EFFECTS,
        )
    total = state.totals.get(metric.id, 0.0) + event.value
    if not math.isfinite(total):
        raise RuleViolation(f"the total of {metric.key!r} would overflow")
    existed = state.profile is not None
    state, rules, advanced = _advance(state, config, event.received_at)
    profile = apply_patch(state.profile, event.user, event.received_at)
    if profile is not state.profile:
        state = replace(state, profile=profile)
    state, identified = _identified(state, rules, existed, event.received_at)
    step = streaks.record_activity(state.streak, rules, metric.key, event.value, event.received_at)
    streaked = advanced + identified + Effects.of_step(step)
    streak = step.streak
    state = replace(state, totals={**state.totals, metric.id: total}, streak=streak)
    happened = Happened(
        metric_id=metric.id,
        value=event.value,
        event_attributes=event.attributes,
        streak_lengths=streaked.streak_lengths(),
        created=not existed,
    )
    rewarded, rewards = _rewarded(state, config, event.id, event.received_at, happened)
    return (
        rewarded.state,
        MetricEventRecorded(
            command_id=event.id,
            metric_id=metric.id,
            metric_key=metric.key,
            total=total,
            day=local_date(event.received_at, profile.tz),
            idempotency_key=event.idempotency_key,
            replayed=False,
            streak=streaks.view(streak, rules),
            extended=any(t.kind == "streak.extended" for t in step.transitions),
            achievements=rewarded.completions,
            points=rewarded.points,
        ),
        streaked + rewards,
    )


def _current_view(
    state: UserState, config: ConfigHistory, at: datetime
) -> streaks.StreakView | None:
    """The user's streak at ``at`` without changing the stored state (idempotent repeats)."""
    if state.profile is None:
        return None
    state, rules, _ = _advance(state, config, at)
    return streaks.view(state.streak, rules)


def _upsert_user(
    state: UserState, command: UpsertUser, config: ConfigHistory
) -> tuple[UserState, UserUpserted, Effects]:
    check_attribute_keys(
        config, command.tenant, "user", command.user.attributes, command.received_at
    )
    exists = state.profile is not None
    if command.mode == "create" and exists:
        raise RuleViolation(f"User with id {command.user_id!r} already exists", "conflict")
    if command.mode == "update" and not exists:
        raise RuleViolation(f"User with id {command.user_id!r} not found", "not_found")
    state, rules, advanced = _advance(state, config, command.received_at)
    profile = apply_patch(state.profile, command.user, command.received_at)
    state, identified = _identified(
        replace(state, profile=profile), rules, exists, command.received_at
    )
    happened = Happened(created=not exists)
    rewarded, rewards = _rewarded(state, config, command.id, command.received_at, happened)
    effects = advanced + identified + rewards
    return rewarded.state, UserUpserted(command.id, created=not exists), effects


def _require_user(state: UserState) -> None:
    if state.profile is None:
        raise RuleViolation(f"User with id {state.user_id!r} not found", "not_found")


def _update_preferences(
    state: UserState, command: UpdatePreferences, config: ConfigHistory
) -> tuple[UserState, PreferencesUpdated, Effects]:
    _require_user(state)
    patch = command.streak
    settings = config.streak_at(command.tenant, command.received_at)
    if patch.overrides and not settings.customization_enabled:
        raise RuleViolation(
            "Streak customization is not enabled: evaluationMode, metrics and daysOff cannot "
            "be set per user",
            "forbidden",
        )
    if isinstance(patch.metrics, tuple):
        check_streak_metrics(config, command.tenant, patch.metrics, command.received_at)
    state, _, advanced = _advance(state, config, command.received_at)
    current = state.preferences.streak
    streak_prefs = apply_streak_patch(current, patch)
    preferences = Preferences(
        notifications={**state.preferences.notifications, **command.notifications},
        streak=streak_prefs,
    )
    streak = state.streak
    if current.enabled and not streak_prefs.enabled:
        streak = streaks.disable(streak)
    updated = replace(state, preferences=preferences, streak=streak)
    return updated, PreferencesUpdated(command.id), advanced


def _change_streak(
    state: UserState, command: Tick | ChangeStreak, config: ConfigHistory
) -> tuple[UserState, StreakChanged, Effects]:
    at = command.received_at
    if isinstance(command, Tick):
        if state.profile is None:  # the user's state is gone (a replay into an older topic)
            return state, StreakChanged(command.id, command.type, None), NO_EFFECTS
        state, rules, advanced = _advance(state, config, at)
        rewarded, rewards = _rewarded(state, config, command.id, at, Happened())
        view = streaks.view(rewarded.state.streak, rules)
        return rewarded.state, StreakChanged(command.id, command.type, view), advanced + rewards
    _require_user(state)
    state, rules, effects = _advance(state, config, at)
    streak = state.streak
    today = local_date(at, _tz(state))
    try:
        if command.action == "grant_freezes":
            step = streaks.grant_freezes(streak, rules, command.count, at)
            streak, effects = step.streak, effects + Effects.of_step(step)
        elif command.action == "add_pause":
            if command.pause_id is None or command.start is None or command.end is None:
                raise StreakRuleError("a pause needs an id, a start and an end")
            pause = Pause(command.pause_id, command.start, command.end)
            streak = streaks.add_pause(streak, pause, today)
            effects += Effects(pauses=((pause, "active"),))
        elif command.action == "remove_pause":
            if command.pause_id is None:
                raise StreakRuleError("which pause to remove is missing")
            removed = next((p for p in streak.pauses if p.id == command.pause_id), None)
            streak = streaks.remove_pause(streak, command.pause_id)
            if removed is not None:
                effects += Effects(pauses=((removed, "archived"),))
        elif command.action == "restore":
            streak = streaks.restore(streak, rules, today)
        else:
            streak = streaks.reset(streak, at)
    except StreakRuleError as refused:
        raise RuleViolation(str(refused), "conflict") from None
    state = replace(state, streak=streak)
    if command.action == "restore":
        happened = Happened(streak_lengths=(streak.length,))
        rewarded, rewards = _rewarded(state, config, command.id, at, happened)
        state, effects = rewarded.state, effects + rewards
    kind = f"{command.type}.{command.action}"
    return state, StreakChanged(command.id, kind, streaks.view(streak, rules)), effects


def _complete_achievement(
    state: UserState, command: CompleteAchievement, config: ConfigHistory
) -> tuple[UserState, AchievementCompleted, Effects]:
    at = command.received_at
    achievement = next(
        (a for a in config.achievements_at(command.tenant, at) if a.id == command.achievement_id),
        None,
    )
    if achievement is None or achievement.status == "inactive":
        raise RuleViolation(f"Achievement {command.achievement_id} not found", "not_found")
    if command.backdate:
        _require_user(state)
        state, _, advanced = _advance(state, config, at)
        happened = Happened(backdate=achievement.id)
        rewarded, rewards = _rewarded(state, config, command.id, at, happened)
        done = rewarded.state.achievements.get(achievement.id)
        backdated = AchievementCompleted(command.id, achievement.id, done, False, (), ())
        return rewarded.state, backdated, advanced + rewards
    check_attribute_keys(config, command.tenant, "user", command.user.attributes, at)
    if achievement.trigger != "api":
        raise RuleViolation(
            f"Achievement {achievement.key or achievement.id} is completed by its "
            f"{achievement.trigger} rule, not through the API",
            "conflict",
        )
    existed = state.profile is not None
    state, rules, advanced = _advance(state, config, at)
    state = replace(state, profile=apply_patch(state.profile, command.user, at))
    state, identified = _identified(state, rules, existed, at)
    effects = advanced + identified
    if achievement.id in state.achievements:  # a repeat changes nothing
        done = state.achievements[achievement.id]
        repeat = AchievementCompleted(command.id, achievement.id, done, True, (), ())
        return state, repeat, effects
    if achievement.status == "locked":
        raise RuleViolation(f"Achievement {achievement.key} is locked", "conflict")
    profile = state.profile
    assert profile is not None
    if not filters_match(achievement.user_filters, profile.attributes):
        raise RuleViolation(
            f"User {command.user_id!r} does not have the user attributes achievement "
            f"{achievement.key} requires",
            "conflict",
        )
    happened = Happened(complete=achievement, created=not existed)
    rewarded, rewards = _rewarded(state, config, command.id, at, happened)
    completed = AchievementCompleted(
        command.id, achievement.id, at, False, rewarded.completions[:1], rewarded.points
    )
    return rewarded.state, completed, effects + rewards
