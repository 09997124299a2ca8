"""What the rules decided for each command, returned as data and stored with the projection."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, TypeAlias

from projections.core.leaderboards import EntryChange
from projections.core.streaks import StreakView

RejectionCode: TypeAlias = Literal["not_found", "conflict", "invalid", "forbidden", "refused"]
"""``refused``: a rule said no (out of points); only ``invalid`` ones are dead-lettered."""


@dataclass(frozen=True)
class MetricEventRecorded:
    """A metric event was applied (``replayed`` False) or was an idempotent repeat (True)."""

    command_id: uuid.UUID
    metric_id: uuid.UUID
    metric_key: str
    total: float
    day: date
    idempotency_key: str | None
    replayed: bool
    streak: StreakView | None = None
    extended: bool = False
    """Whether this event lengthened the streak."""
    achievements: tuple[Mapping[str, Any], ...] = ()
    """Achievements this event completed (Trophy's ``UserAchievementResponse``)."""
    points: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Points systems this event changed (Trophy's ``MetricEventPointsResponse`` by key)."""
    leaderboards: tuple[EntryChange, ...] = ()
    """Leaderboard entries this event changed (ranks are added when the answer is read)."""


@dataclass(frozen=True)
class UserUpserted:
    command_id: uuid.UUID
    created: bool


@dataclass(frozen=True)
class CommandRejected:
    """The command broke a rule and changed nothing; ``invalid`` ones are dead-lettered."""

    command_id: uuid.UUID
    code: RejectionCode
    reason: str


@dataclass(frozen=True)
class AchievementCompleted:
    """An achievement completed through the API (``repeated``: it already was, and nothing
    changed) or a backdate applied (``achieved_at`` None: the user did not qualify)."""

    command_id: uuid.UUID
    achievement_id: uuid.UUID
    achieved_at: datetime | None
    repeated: bool
    achievement: tuple[Mapping[str, Any], ...]
    points: Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class PreferencesUpdated:
    command_id: uuid.UUID


@dataclass(frozen=True)
class StreakChanged:
    """A scheduler tick or an admin operation applied; ``streak`` is the result."""

    command_id: uuid.UUID
    kind: str
    streak: StreakView | None


Outcome: TypeAlias = (
    MetricEventRecorded
    | UserUpserted
    | PreferencesUpdated
    | StreakChanged
    | AchievementCompleted
    | CommandRejected
)


def streak_json(view: StreakView) -> dict[str, Any]:
    """Trophy's ``BaseStreakResponse``; freeze fields only when freezes (auto-earn) are on."""
    body: dict[str, Any] = {
        "length": view.length,
        "frequency": view.frequency,
        "started": _date(view.started),
        "periodStart": _date(view.period_start),
        "periodEnd": _date(view.period_end),
        "expires": _date(view.expires),
    }
    if view.freezes is not None:
        body["freezes"] = view.freeze_count
        body["maxFreezes"] = view.freezes.max_count
        if view.freezes.auto_earn:
            body["freezeAutoEarnInterval"] = view.freezes.auto_earn_interval_days
            body["freezeAutoEarnAmount"] = view.freezes.auto_earn_amount
    return body


def entry_change_json(change: EntryChange) -> dict[str, Any]:
    """A leaderboard entry change as stored with an outcome: which board and run, the value
    before and after, and the breakdown group. Ranks are not stored: they depend on every other
    participant and are read when the answer is given."""
    previous = change.previous
    return {
        "id": str(change.board.id),
        "run": change.run.start.isoformat(),
        "runEnd": _date(change.run.end),
        "day": change.day.isoformat(),
        "value": change.entry.value,
        "previousValue": previous.value if previous is not None else None,
        "group": list(change.entry.group) if change.entry.group is not None else None,
    }


def _date(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def outcome_status(outcome: Outcome) -> str:
    """The outcome's status column: applied, replayed or rejected."""
    if isinstance(outcome, CommandRejected):
        return "rejected"
    if isinstance(outcome, MetricEventRecorded) and outcome.replayed:
        return "replayed"
    return "applied"


def outcome_body(outcome: Outcome) -> dict[str, Any]:
    """The outcome as a JSON-ready object (what the API reads back for its answer)."""
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
            "achievements": list(outcome.achievements),
            "points": dict(outcome.points),
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
            "achievement": outcome.achievement[0] if outcome.achievement else None,
            "points": dict(outcome.points),
        }
    if isinstance(outcome, StreakChanged):
        view = streak_json(outcome.streak) if outcome.streak is not None else None
        return {"kind": outcome.kind, "streak": view}
    return {"kind": "rejected", "code": outcome.code, "error": outcome.reason}
