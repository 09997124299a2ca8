"""Achievements (Trophy's §2.5): what completes them, as pure functions of configuration and a
user's state.

Types: ``metric`` (the user's total reaches ``metric_value``), ``streak`` (the streak length
reaches ``streak_length``), ``api`` (completed by ``POST /v1/achievements/{key}/complete``),
``achievement`` (all prerequisites completed) and ``anniversary`` (``anniversary_years`` after
the user's sign-up date). User-attribute filters apply to every type; event-attribute filters to
metric achievements (every one must match the event that reaches the value).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, TypeAlias

from projections.core.versions import Versioned

AchievementTrigger: TypeAlias = Literal["metric", "streak", "api", "achievement", "anniversary"]
AchievementStatus: TypeAlias = Literal["active", "inactive", "locked"]


@dataclass(frozen=True)
class AttributeFilter:
    """``attribute``'s value must equal ``value`` (the attribute named by its key)."""

    attribute_id: uuid.UUID
    key: str
    value: str


def filters_match(filters: Sequence[AttributeFilter], values: Mapping[str, str]) -> bool:
    """Whether every filter matches ``values`` (attribute key → value)."""
    if not filters:  # most rules have none: skip making the generator (several per event)
        return True
    return all(values.get(f.key) == f.value for f in filters)


@dataclass(frozen=True)
class Achievement(Versioned):
    """One version of an achievement: what completes it (its trigger), its filters and its
    status."""

    tenant: str
    id: uuid.UUID
    name: str
    trigger: AchievementTrigger
    status: AchievementStatus
    created: datetime
    key: str | None = None
    description: str | None = None
    badge_url: str | None = None
    metric_id: uuid.UUID | None = None
    metric_value: float | None = None
    streak_length: int | None = None
    anniversary_years: int | None = None
    prerequisites: tuple[uuid.UUID, ...] = ()
    user_filters: tuple[AttributeFilter, ...] = ()
    event_filters: tuple[AttributeFilter, ...] = ()

    @property
    def live(self) -> bool:
        """Active achievements can be completed; locked and inactive ones cannot."""
        return self.status == "active"


@dataclass(frozen=True)
class Completion:
    """An achievement completed at an instant (``backdated``: by a backdate, announced to no
    one)."""

    achievement: Achievement
    at: datetime
    backdated: bool = False


@dataclass(frozen=True)
class Progress:
    """What a user has that achievements look at."""

    totals: Mapping[uuid.UUID, float]
    streak_length: int
    user_attributes: Mapping[str, str]
    sign_up: date | None
    today: date
    completed: Mapping[uuid.UUID, datetime]


def qualifies(
    achievement: Achievement, progress: Progress, event_attributes: Mapping[str, str] | None
) -> bool:
    """Whether ``progress`` meets the achievement now. Metric achievements with event filters
    qualify only on an event (``event_attributes``) that matches them."""
    if not filters_match(achievement.user_filters, progress.user_attributes):
        return False
    if achievement.trigger == "metric":
        if achievement.metric_id is None or achievement.metric_value is None:
            return False
        if achievement.event_filters and (
            event_attributes is None
            or not filters_match(achievement.event_filters, event_attributes)
        ):
            return False
        return progress.totals.get(achievement.metric_id, 0.0) >= achievement.metric_value
    if achievement.trigger == "streak":
        return achievement.streak_length is not None and (
            progress.streak_length >= achievement.streak_length
        )
    if achievement.trigger == "achievement":
        return bool(achievement.prerequisites) and all(
            p in progress.completed for p in achievement.prerequisites
        )
    if achievement.trigger == "anniversary":
        return anniversary(achievement, progress.sign_up) is not None and (
            progress.today >= anniversary(achievement, progress.sign_up)  # type: ignore[operator]
        )
    return False  # api: only through the complete endpoint


def anniversary(achievement: Achievement, sign_up: date | None) -> date | None:
    """The local date an anniversary achievement falls due (29 February → 28 February)."""
    if sign_up is None or achievement.anniversary_years is None:
        return None
    year = sign_up.year + achievement.anniversary_years
    try:
        return sign_up.replace(year=year)
    except ValueError:
        return date(year, 2, 28)


def newly_completed(
    achievements: Iterable[Achievement],
    progress: Progress,
    at: datetime,
    event_attributes: Mapping[str, str] | None = None,
    *,
    backdated: bool = False,
) -> list[Completion]:
    """Live achievements ``progress`` now meets and has not completed, including composites
    they complete in turn, in the order they complete."""
    live = [a for a in achievements if a.live and a.id not in progress.completed]
    done: dict[uuid.UUID, datetime] = dict(progress.completed)
    out: list[Completion] = []
    # ids break ties: a UUID orders as its text does
    for achievement in sorted(live, key=lambda a: (a.created, a.id)):
        if achievement.trigger == "achievement":
            continue
        if qualifies(achievement, progress, event_attributes):
            done[achievement.id] = at
            out.append(Completion(achievement, at, backdated))
    changed = True
    while changed:  # composites, until nothing more completes
        changed = False
        for achievement in sorted(live, key=lambda a: (a.created, a.id)):
            if achievement.trigger != "achievement" or achievement.id in done:
                continue
            state = Progress(
                progress.totals,
                progress.streak_length,
                progress.user_attributes,
                progress.sign_up,
                progress.today,
                done,
            )
            if qualifies(achievement, state, None):
                done[achievement.id] = at
                out.append(Completion(achievement, at, backdated))
                changed = True
    return out
