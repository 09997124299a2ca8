"""Trophy's JSON shapes of configuration and of what a command did, as stored with each
command's outcome (so that an answer repeated later, an idempotent replay or
``GET /v1/events/{id}``, shows what the live answer showed, names included) and as the API's
presenters show them.

:func:`outcome_body` is the codec of the ``command_outcomes.body`` column: the core returns
typed outcomes, and this renders them with the configuration in force when the command was
received.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from projections.core import points as pts
from projections.core import streaks
from projections.core.achievements import Achievement, AttributeFilter, Completion
from projections.core.leaderboards import EntryChange, Leaderboard
from projections.core.model import ConfigHistory, UserProfile
from projections.core.outcomes import (
    AchievementCompleted,
    MetricEventRecorded,
    Outcome,
    PreferencesUpdated,
    StreakChanged,
    UserUpserted,
)
from projections.core.points import (
    PointsBoost,
    PointsLevel,
    PointsSystem,
    PointsTrigger,
    boost_status,
)
from projections.core.rewards import AwardRecord, PointsChange
from projections.core.streaks import PeriodRecord, Streak, StreakRules, StreakView
from projections.store.codecs import iso_day, iso_instant


def _pairs(filters: tuple[AttributeFilter, ...]) -> list[dict[str, str]]:
    return [{"key": f.key, "value": f.value} for f in filters]


def achievement_json(achievement: Achievement, metric_name: str | None) -> dict[str, Any]:
    """Trophy's ``AchievementResponse``."""
    body: dict[str, Any] = {
        "id": str(achievement.id),
        "name": achievement.name,
        "trigger": achievement.trigger,
        "description": achievement.description,
        "badgeUrl": achievement.badge_url,
        "key": achievement.key,
        "userAttributes": _pairs(achievement.user_filters),
    }
    if achievement.trigger == "metric":
        body |= {
            "metricId": str(achievement.metric_id),
            "metricValue": achievement.metric_value,
            "metricName": metric_name,
            "eventAttributes": _pairs(achievement.event_filters),
        }
        if achievement.event_filters:
            body["eventAttribute"] = _pairs(achievement.event_filters[:1])[0]
    elif achievement.trigger == "streak":
        body["streakLength"] = achievement.streak_length
    elif achievement.trigger == "achievement":
        body["achievementIds"] = [str(p) for p in achievement.prerequisites]
    elif achievement.trigger == "anniversary":
        body["anniversaryYears"] = achievement.anniversary_years
    return body


def points_system_json(system: PointsSystem) -> dict[str, Any]:
    """Trophy's ``PointsResponse`` fields."""
    return {
        "id": str(system.id),
        "key": system.key,
        "name": system.name,
        "description": system.description,
        "badgeUrl": system.badge_url,
        "maxPoints": system.max_points,
    }


def trigger_json(
    trigger: PointsTrigger, metric_name: str | None, achievement_name: str | None
) -> dict[str, Any]:
    """Trophy's (application) ``PointsTrigger``."""
    body: dict[str, Any] = {
        "id": str(trigger.id),
        "type": trigger.type,
        "points": trigger.points,
        "status": trigger.status,
        "userAttributes": _pairs(trigger.user_filters),
        "created": iso_instant(trigger.created),
        "updated": iso_instant(trigger.updated),
    }
    if trigger.type == "metric":
        body |= {
            "metricId": str(trigger.metric_id),
            "metricName": metric_name,
            "metricThreshold": trigger.metric_threshold,
            "eventAttributes": _pairs(trigger.event_filters),
        }
    elif trigger.type == "achievement":
        body |= {"achievementId": str(trigger.achievement_id), "achievementName": achievement_name}
    elif trigger.type == "streak":
        body["streakLengthThreshold"] = trigger.streak_length
    elif trigger.type == "time":
        body |= {"timeUnit": (trigger.time_unit or "")[:-1], "timeInterval": trigger.time_interval}
    return body


def boost_json(boost: PointsBoost, today: date) -> dict[str, Any]:
    """Trophy's ``PointsBoost``."""
    return {
        "id": str(boost.id),
        "name": boost.name,
        "status": boost_status(boost, today),
        "start": boost.start.isoformat(),
        "end": iso_day(boost.end),
        "multiplier": boost.multiplier,
        "rounding": boost.rounding,
    }


def level_json(level: PointsLevel | None) -> dict[str, Any] | None:
    """Trophy's ``PointsLevel``."""
    if level is None:
        return None
    return {
        "id": str(level.id),
        "key": level.key,
        "name": level.name,
        "description": level.description or "",
        "badgeUrl": level.badge_url,
        "points": level.points,
    }


# ---------------------------------------------------------------------------------------------
# Configuration documents: the admin API's JSON, stored as is, read into the core's dataclasses


# ---------------------------------------------------------------------------------------------
# What a command did


def iso(at: datetime) -> str:
    """An instant as Trophy writes it (``Z`` for UTC)."""
    return at.isoformat().replace("+00:00", "Z")


def whole(value: float) -> int | float:
    """Trophy's values are integers; a fractional metric total keeps its fraction."""
    return int(value) if float(value).is_integer() else value


def _clock(value: time | None) -> str | None:
    return value.strftime("%H:%M") if value is not None else None


def board_json(board: Leaderboard, config: ConfigHistory, now: datetime) -> dict[str, Any]:
    """Trophy's ``LeaderboardResponse``."""
    keys = [a.key for a in board.breakdown]
    body: dict[str, Any] = {
        "id": str(board.id),
        "name": board.name,
        "key": board.key,
        "rankBy": board.rank_by,
        "breakdownAttribute": keys[0] if len(keys) == 1 else None,
        "breakdownAttributes": keys,
        "description": board.description,
        "start": board.start.isoformat(),
        "end": board.end.isoformat() if board.end else None,
        "startTime": _clock(board.start_time),
        "endTime": _clock(board.end_time),
        "maxParticipants": board.max_participants,
        "runUnit": board.run_unit,
        "runInterval": board.run_interval,
        "userAttributes": [{"key": f.key, "value": f.value} for f in board.user_filters],
    }
    if board.rank_by == "metric":
        metric = next((m for m in config.metrics if m.id == board.metric_id), None)
        body["metricKey"] = metric.key if metric else None
        body["metricName"] = metric.name if metric else None
    elif board.rank_by == "points":
        systems = config.points_at(board.tenant, now).systems
        system = systems.get(board.points_system_id) if board.points_system_id else None
        body["pointsSystemKey"] = system.key if system else None
        body["pointsSystemName"] = system.name if system else None
    return body


def user_json(user_id: str, profile: UserProfile) -> dict[str, Any]:
    """Trophy's ``User``."""
    return {
        "id": user_id,
        "email": profile.email,
        "name": profile.name,
        "tz": profile.tz,
        "signUpDate": profile.sign_up_date.isoformat() if profile.sign_up_date else None,
        "deviceTokens": list(profile.device_tokens) if profile.device_tokens is not None else None,
        "subscribeToEmails": profile.subscribe_to_emails,
        "attributes": dict(profile.attributes),
        "control": False,
        "created": iso(profile.created),
        "updated": iso(profile.updated),
    }


@dataclass(frozen=True)
class Names:
    """Renders achievements and triggers with the names in force at ``at``."""

    config: ConfigHistory
    tenant: str
    at: datetime

    def metric(self, metric_id: uuid.UUID | None) -> str | None:
        """The metric's name then, or ``None``."""
        if metric_id is None:
            return None
        metric = self.config.metric_by_id_at(self.tenant, metric_id, self.at)
        return metric.name if metric is not None else None

    def achievement_by_id(self, achievement_id: uuid.UUID | None) -> Achievement | None:
        """The achievement as it was then, or ``None``."""
        if achievement_id is None:
            return None
        for achievement in self.config.achievements_at(self.tenant, self.at):
            if achievement.id == achievement_id:
                return achievement
        return None

    def achievement_name(self, achievement_id: uuid.UUID | None) -> str | None:
        """The achievement's name then, or ``None``."""
        achievement = self.achievement_by_id(achievement_id)
        return achievement.name if achievement is not None else None

    def achievement(self, achievement: Achievement) -> dict[str, Any]:
        """Trophy's ``AchievementResponse`` with the names then."""
        metric = self.metric(achievement.metric_id)
        body = self.config.rendering(
            achievement, metric, lambda: achievement_json(achievement, metric)
        )
        return dict(body)  # rendered once per version and names: a copy is the caller's

    def trigger(self, trigger: pts.PointsTrigger) -> dict[str, Any]:
        """Trophy's ``PointsTrigger`` with the names then."""
        metric = self.metric(trigger.metric_id)
        achievement = self.achievement_name(trigger.achievement_id)
        body = self.config.rendering(
            trigger, (metric, achievement), lambda: trigger_json(trigger, metric, achievement)
        )
        return dict(body)

    def points_system(self, system: PointsSystem) -> dict[str, Any]:
        """Trophy's ``PointsResponse`` fields."""
        return dict(self.config.rendering(system, None, lambda: points_system_json(system)))


def award_json(award: pts.Award, names: Names, today: date) -> dict[str, Any]:
    """Trophy's ``PointsAward``."""
    return {
        "id": str(award.id),
        "awarded": award.awarded,
        "date": iso(award.at),
        "total": award.total,
        "trigger": names.trigger(award.trigger),
        "boosts": [boost_json(b, today) for b in award.boosts],
    }


def award_bodies(
    awards: Iterable[tuple[tuple[str, str], uuid.UUID, AwardRecord]], config: ConfigHistory
) -> dict[uuid.UUID, dict[str, Any]]:
    """Each award's ``PointsAward`` by id, with the names in force when it was given (the
    ``points_awards.body`` column, and what ``points.changed`` lists)."""
    return {
        record.award.id: award_json(
            record.award, Names(config, key[0], record.award.at), record.day
        )
        for key, _, record in awards
    }


def achievements_json(completions: Iterable[Completion], names: Names) -> list[dict[str, Any]]:
    """Trophy's ``UserAchievementResponse`` of each completion."""
    return [{**names.achievement(c.achievement), "achievedAt": iso(c.at)} for c in completions]


def points_json(changes: Iterable[PointsChange], names: Names) -> dict[str, dict[str, Any]]:
    """Trophy's ``MetricEventPointsResponse`` by system key; ``level`` only where it changed."""
    out: dict[str, dict[str, Any]] = {}
    for change in changes:
        body = {
            **names.points_system(change.system),
            "total": change.total,
            "added": change.added,
            "awards": [award_json(r.award, names, r.day) for r in change.awards],
        }
        if change.level is not None:
            body["level"] = level_json(change.level.current)
        out[change.system.key] = body
    return out


def streak_json(view: StreakView) -> dict[str, Any]:
    """Trophy's ``BaseStreakResponse``; freeze fields only when freezes (auto-earn) are on."""
    body: dict[str, Any] = {
        "length": view.length,
        "frequency": view.frequency,
        "started": iso_day(view.started),
        "periodStart": iso_day(view.period_start),
        "periodEnd": iso_day(view.period_end),
        "expires": iso_day(view.expires),
    }
    if view.freezes is not None:
        body["freezes"] = view.freeze_count
        body["maxFreezes"] = view.freezes.max_count
        if view.freezes.auto_earn:
            body["freezeAutoEarnInterval"] = view.freezes.auto_earn_interval_days
            body["freezeAutoEarnAmount"] = view.freezes.auto_earn_amount
    return body


def history_json(record: PeriodRecord, freezes_enabled: bool) -> dict[str, Any]:
    """Trophy's ``StreakHistoryItem`` (``usedFreeze`` only when freezes are on)."""
    item: dict[str, Any] = {
        "periodStart": record.start.isoformat(),
        "periodEnd": record.end.isoformat(),
        "length": record.length,
        "usedPause": record.used_pause,
    }
    if freezes_enabled:
        item["usedFreeze"] = record.used_freeze
    if record.reset_at is not None:
        item["resetAt"] = iso(record.reset_at)
    return item


def streak_response_json(
    streak: Streak,
    rules: StreakRules,
    stored: Mapping[date, PeriodRecord],
    history_periods: int,
    today: date,
) -> dict[str, Any]:
    """Trophy's ``StreakResponse``: the streak (advanced to the instant), its last
    ``history_periods`` periods (``stored``: the closed ones by first day) and the pauses not
    over by ``today``."""
    view = streaks.view(streak, rules)
    freezes_on = rules.freezes is not None
    return {
        **streak_json(view),
        "extended": iso(view.extended_at) if view.extended_at else None,
        "streakHistory": [
            history_json(p, freezes_on) for p in streaks.history(streak, stored, history_periods)
        ],
        "pauses": [
            {"id": str(p.id), "start": p.start.isoformat(), "end": p.end.isoformat()}
            for p in sorted(streak.pauses, key=lambda p: (p.start, p.end))
            if p.end >= today
        ],
    }


def entry_change_json(change: EntryChange) -> dict[str, Any]:
    """A leaderboard entry change as stored with an outcome: which board and run, the value
    before and after, and the breakdown group. Ranks are not stored: they depend on every other
    participant and are read when the answer is given."""
    previous = change.previous
    return {
        "id": str(change.board.id),
        "run": change.run.start.isoformat(),
        "runEnd": iso_day(change.run.end),
        "day": change.day.isoformat(),
        "value": change.entry.value,
        "previousValue": previous.value if previous is not None else None,
        "group": list(change.entry.group) if change.entry.group is not None else None,
    }


def outcome_body(outcome: Outcome, names: Names) -> dict[str, Any]:
    """The outcome as stored (what the API reads back for its answer), with ``names`` as they
    were when the command was received."""
    if isinstance(outcome, MetricEventRecorded):
        return {
            "kind": "metric.event",
            "metricId": str(outcome.metric_id),
            "metricKey": outcome.metric_key,
            "total": outcome.total,
            "day": outcome.day.isoformat(),
            "idempotencyKey": outcome.idempotency_key,
            "idempotentReplayed": outcome.replayed,
            "streak": (
                {**streak_json(outcome.streak), "extended": outcome.extended}
                if outcome.streak is not None
                else None
            ),
            "achievements": achievements_json(outcome.achievements, names),
            "points": points_json(outcome.points, names),
            "leaderboards": {c.board.key: entry_change_json(c) for c in outcome.leaderboards},
        }
    if isinstance(outcome, UserUpserted):
        return {"kind": "user.upsert", "created": outcome.created}
    if isinstance(outcome, PreferencesUpdated):
        return {"kind": "user.preferences"}
    if isinstance(outcome, AchievementCompleted):
        return {
            "kind": "achievement.complete",
            "achievementId": str(outcome.achievement_id),
            "achievedAt": outcome.achieved_at.isoformat() if outcome.achieved_at else None,
            "repeated": outcome.repeated,
            "achievement": (
                achievements_json(outcome.achievement, names)[0] if outcome.achievement else None
            ),
            "points": points_json(outcome.points, names),
        }
    if isinstance(outcome, StreakChanged):
        view = streak_json(outcome.streak) if outcome.streak is not None else None
        return {"kind": outcome.kind, "streak": view}
    return {"kind": "rejected", "code": outcome.code, "error": outcome.reason}
