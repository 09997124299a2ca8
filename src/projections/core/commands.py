"""Commands: every change to a user's state, as the rules receive it."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Final, Literal, TypeAlias

from projections.core.streaks import EvaluationMode


class _Unset:
    _instance: _Unset | None = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Final = _Unset()
"""Marks a user field the command leaves as it is."""


@dataclass(frozen=True)
class UserPatch:
    """The user fields a command sets; :data:`UNSET` fields are left unchanged.

    ``attributes`` are merged into the user's attributes, key by key.
    """

    name: str | _Unset | None = UNSET
    email: str | _Unset | None = UNSET
    tz: str | _Unset | None = UNSET
    device_tokens: tuple[str, ...] | _Unset | None = UNSET
    subscribe_to_emails: bool | _Unset = UNSET
    sign_up_date: date | _Unset | None = UNSET
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordMetricEvent:
    """A metric event: add ``value`` to the user's total for ``metric_key``."""

    id: uuid.UUID
    tenant: str
    user_id: str
    received_at: datetime
    metric_key: str
    value: float
    attributes: Mapping[str, str]
    user: UserPatch
    idempotency_key: str | None = None

    type: Literal["metric.event"] = "metric.event"


UpsertMode: TypeAlias = Literal["create", "identify", "update"]


@dataclass(frozen=True)
class UpsertUser:
    """Create (must not exist), identify (create or update) or update (must exist) a user."""

    id: uuid.UUID
    tenant: str
    user_id: str
    received_at: datetime
    user: UserPatch
    mode: UpsertMode

    type: Literal["user.upsert"] = "user.upsert"


@dataclass(frozen=True)
class StreakPreferencesPatch:
    """The streak preferences a command sets; :data:`UNSET` fields are left unchanged."""

    enabled: bool | _Unset = UNSET
    evaluation_mode: EvaluationMode | _Unset | None = UNSET
    metrics: tuple[tuple[str, float], ...] | _Unset | None = UNSET
    days_off: frozenset[int] | _Unset | None = UNSET

    @property
    def overrides(self) -> bool:
        """Whether the patch sets anything that needs streak customisation."""
        return any(v is not UNSET for v in (self.evaluation_mode, self.metrics, self.days_off))


@dataclass(frozen=True)
class UpdatePreferences:
    """Set notification channels (per type; others kept) and streak preferences of a user."""

    id: uuid.UUID
    tenant: str
    user_id: str
    received_at: datetime
    notifications: Mapping[str, tuple[str, ...]]
    streak: StreakPreferencesPatch

    type: Literal["user.preferences"] = "user.preferences"


@dataclass(frozen=True)
class Tick:
    """The scheduler's: bring the user's time-driven state to ``received_at`` (streak period
    ends, auto-earned freezes, time-triggered points, anniversary achievements)."""

    id: uuid.UUID
    tenant: str
    user_id: str
    received_at: datetime

    type: Literal["user.tick"] = "user.tick"


StreakAction: TypeAlias = Literal["grant_freezes", "add_pause", "remove_pause", "restore", "reset"]


@dataclass(frozen=True)
class ChangeStreak:
    """An admin operation on a user's streak.

    ``grant_freezes`` uses ``count``; ``add_pause`` ``pause_id``, ``start`` and ``end``;
    ``remove_pause`` ``pause_id``; ``restore`` and ``reset`` nothing more.
    """

    id: uuid.UUID
    tenant: str
    user_id: str
    received_at: datetime
    action: StreakAction
    count: int = 0
    pause_id: uuid.UUID | None = None
    start: date | None = None
    end: date | None = None

    type: Literal["streak.change"] = "streak.change"


@dataclass(frozen=True)
class CompleteAchievement:
    """Complete an ``api`` achievement for a user (upserting the user inline), or, with
    ``backdate``, complete any achievement the user already qualifies for, silently."""

    id: uuid.UUID
    tenant: str
    user_id: str
    received_at: datetime
    achievement_id: uuid.UUID
    user: UserPatch = field(default_factory=UserPatch)
    backdate: bool = False

    type: Literal["achievement.complete"] = "achievement.complete"


Command: TypeAlias = (
    RecordMetricEvent | UpsertUser | UpdatePreferences | Tick | ChangeStreak | CompleteAchievement
)
