"""What the rules decided for each command, returned as data (the store renders it as JSON)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, TypeAlias

from projections.core.achievements import Completion
from projections.core.leaderboards import EntryChange
from projections.core.rewards import PointsChange
from projections.core.streaks import StreakView

RejectionCode: TypeAlias = Literal["not_found", "conflict", "invalid", "forbidden", "refused"]
"""``refused``: a rule said no (out of points); only ``invalid`` ones are dead-lettered."""


@dataclass(frozen=True, slots=True)
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
    achievements: tuple[Completion, ...] = ()
    """Achievements this event completed."""
    points: tuple[PointsChange, ...] = ()
    """Points systems this event changed."""
    leaderboards: tuple[EntryChange, ...] = ()
    """Leaderboard entries this event changed (ranks are added when the answer is read)."""


@dataclass(frozen=True, slots=True)
class UserUpserted:
    """A user upsert applied (``created``: the user is new)."""

    command_id: uuid.UUID
    created: bool


@dataclass(frozen=True, slots=True)
class CommandRejected:
    """The command broke a rule and changed nothing; ``invalid`` ones are dead-lettered."""

    command_id: uuid.UUID
    code: RejectionCode
    reason: str


@dataclass(frozen=True, slots=True)
class AchievementCompleted:
    """An achievement completed through the API (``repeated``: it already was, and nothing
    changed) or a backdate applied (``achieved_at`` None: the user did not qualify)."""

    command_id: uuid.UUID
    achievement_id: uuid.UUID
    achieved_at: datetime | None
    repeated: bool
    achievement: tuple[Completion, ...]
    """The completion (none when it was a repeat or a backdate)."""
    points: tuple[PointsChange, ...]


@dataclass(frozen=True, slots=True)
class PreferencesUpdated:
    """A preferences change applied."""

    command_id: uuid.UUID


@dataclass(frozen=True, slots=True)
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


def outcome_status(outcome: Outcome) -> str:
    """The outcome's status column: applied, replayed or rejected."""
    if isinstance(outcome, CommandRejected):
        return "rejected"
    if isinstance(outcome, MetricEventRecorded) and outcome.replayed:
        return "replayed"
    return "applied"
