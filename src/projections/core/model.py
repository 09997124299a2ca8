"""State and configuration the rules read: users, their totals, and versioned configuration."""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from types import MappingProxyType
from typing import Any, Literal, Protocol, TypeAlias, TypeVar

from projections.core.achievements import Achievement
from projections.core.leaderboards import Entry, Leaderboard
from projections.core.notices import Notices
from projections.core.points import (
    PointsBoost,
    PointsLevel,
    PointsState,
    PointsSystem,
    PointsTrigger,
)
from projections.core.streaks import Streak, StreakPreferences, StreakSettings
from projections.core.versions import Versioned

T = TypeVar("T")

UserKey: TypeAlias = tuple[str, str]
"""(tenant, user id)."""


@dataclass(frozen=True)
class UserProfile:
    """A user as Trophy describes one; ``created``/``updated`` come from command times."""

    created: datetime
    updated: datetime
    name: str | None = None
    email: str | None = None
    tz: str | None = None
    device_tokens: tuple[str, ...] | None = None
    subscribe_to_emails: bool = True
    sign_up_date: date | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)


NotificationChannels: TypeAlias = Mapping[str, tuple[str, ...]]
"""Notification type (``achievement_completed``, ``recap``, …) → channels (``email``, ``push``)."""


@dataclass(frozen=True)
class Preferences:
    """A user's notification and streak preferences (Trophy's ``UserPreferencesResponse``)."""

    notifications: NotificationChannels = field(default_factory=dict)
    streak: StreakPreferences = field(default_factory=StreakPreferences)


@dataclass(frozen=True)
class UserState:
    """Everything the rules know about one user: the profile (``None`` before the user exists),
    the metric totals by metric id, preferences and the streak."""

    tenant: str
    user_id: str
    profile: UserProfile | None = None
    totals: Mapping[uuid.UUID, float] = field(default_factory=dict)
    preferences: Preferences = field(default_factory=Preferences)
    streak: Streak = field(default_factory=Streak)
    achievements: Mapping[uuid.UUID, datetime] = field(default_factory=dict)
    """Completed achievements: id → when."""
    points: PointsState = field(default_factory=PointsState)
    leaderboards: Mapping[uuid.UUID, Entry] = field(default_factory=dict)
    """The user's entry on each leaderboard (in the latest run they took part in)."""
    notices: Notices = field(default_factory=Notices)
    """The lifecycle messages the user is due to hear about later."""

    @property
    def key(self) -> UserKey:
        """The user's (tenant, user id)."""
        return (self.tenant, self.user_id)


@dataclass(frozen=True)
class MetricVersion(Versioned):
    """One version of a metric."""

    tenant: str
    id: uuid.UUID
    key: str
    name: str
    unit_type: str = "number"
    units: str | None = None


AttributeType: TypeAlias = Literal["user", "event"]


@dataclass(frozen=True)
class AttributeVersion(Versioned):
    """One version of a user or event attribute."""

    tenant: str
    id: uuid.UUID
    key: str
    name: str
    type: AttributeType


@dataclass(frozen=True)
class PointsConfig:
    """The points systems in force at an instant, with their triggers, levels and boosts.

    The triggers are also indexed by what fires them, in their order, so that an event only
    looks at the triggers it can fire: those of its metric, the time triggers, and those an
    achievement, a streak or a new user fire.
    """

    systems: Mapping[uuid.UUID, PointsSystem]
    triggers: tuple[PointsTrigger, ...]
    levels: tuple[PointsLevel, ...]
    boosts: tuple[PointsBoost, ...]
    by_metric: Mapping[uuid.UUID, tuple[PointsTrigger, ...]] = field(init=False)
    """Metric triggers by their metric."""
    timed: tuple[PointsTrigger, ...] = field(init=False)
    """Time triggers."""
    on_events: tuple[PointsTrigger, ...] = field(init=False)
    """Achievement, streak and user-creation triggers."""

    def __post_init__(self) -> None:
        kinds = ("achievement", "streak", "user_creation")
        metric = ((t.metric_id, t) for t in self.triggers if t.type == "metric")
        object.__setattr__(self, "by_metric", _by_metric(metric))
        object.__setattr__(self, "timed", tuple(t for t in self.triggers if t.type == "time"))
        object.__setattr__(self, "on_events", tuple(t for t in self.triggers if t.type in kinds))


@dataclass(frozen=True)
class AchievementRules:
    """The achievements in force at an instant, indexed by what may complete them: an event
    only looks at those of its metric, the streak ones when it extended the streak, and
    the composites and anniversaries (always)."""

    live: tuple[Achievement, ...]
    """All of them, in their order."""
    by_metric: Mapping[uuid.UUID, tuple[Achievement, ...]] = field(init=False)
    streak: tuple[Achievement, ...] = field(init=False)
    composites: tuple[Achievement, ...] = field(init=False)
    """Those completed by completing others."""
    anniversaries: tuple[Achievement, ...] = field(init=False)

    def __post_init__(self) -> None:
        def of(trigger: str) -> tuple[Achievement, ...]:
            return tuple(a for a in self.live if a.trigger == trigger)

        metric = ((a.metric_id, a) for a in self.live if a.trigger == "metric")
        object.__setattr__(self, "by_metric", _by_metric(metric))
        object.__setattr__(self, "streak", of("streak"))
        object.__setattr__(self, "composites", of("achievement"))
        object.__setattr__(self, "anniversaries", of("anniversary"))


def _by_metric(rules: Iterable[tuple[uuid.UUID | None, T]]) -> Mapping[uuid.UUID, tuple[T, ...]]:
    """Metric rules (achievements or triggers, with their metric) by metric, in their order."""
    found: dict[uuid.UUID, list[T]] = {}
    for metric_id, rule in rules:
        if metric_id is not None:
            found.setdefault(metric_id, []).append(rule)
    return MappingProxyType({k: tuple(v) for k, v in found.items()})


@dataclass(frozen=True)
class StreakSettingsVersion(Versioned):
    """One version of a tenant's streak settings."""

    tenant: str
    settings: StreakSettings


@dataclass(frozen=True)
class ConfigHistory:
    """Configuration versions covering some span of time, looked up as of a command's time.

    The lookups (``…_at``) are memoised: what is in force for a tenant only changes at the
    instants its versions begin or end, so each answer is kept for the span between two such
    instants and shared by every lookup that falls in it. The rules look the configuration up
    several times per event; without the memo each lookup scanned every version of every
    tenant the history holds. Answers are immutable (tuples, frozen values): share them freely.
    """

    metrics: tuple[MetricVersion, ...] = ()
    attributes: tuple[AttributeVersion, ...] = ()
    streak_settings: tuple[StreakSettingsVersion, ...] = ()
    achievements: tuple[Achievement, ...] = ()
    points_systems: tuple[PointsSystem, ...] = ()
    points_triggers: tuple[PointsTrigger, ...] = ()
    points_levels: tuple[PointsLevel, ...] = ()
    points_boosts: tuple[PointsBoost, ...] = ()
    leaderboards: tuple[Leaderboard, ...] = ()
    _edges: dict[str, list[datetime]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    """Per tenant, the instants at which one of its versions begins or ends, in order."""
    _answers: dict[tuple[str, str, int], Any] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    """Memoised lookups by (lookup, tenant, span). Only whole answers are kept (an index of
    the tenant's metrics, say), never one per key a request names: those would grow with the
    requests."""
    _latest: dict[str, tuple[datetime, int]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    """Per tenant, the instant last looked up and its span: the rules look up a dozen times
    per command, all at the command's time, and the search (datetime comparisons) cost more
    than the answers' memo."""

    _renderings: dict[tuple[int, Hashable], tuple[object, Any]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    """Renderings of versions by (the version's identity, variant), with the version itself."""

    def rendering(self, version: object, variant: Hashable, render: Callable[[], T]) -> T:
        """``render()`` of one of this history's versions (the store's JSON of a trigger,
        say), made once per ``variant`` (what else it depends on, such as the names of what it
        refers to) and kept as long as the history. ``render`` must return a value nobody
        changes: callers copy what they mean to change."""
        key = (id(version), variant)
        found = self._renderings.get(key)
        if found is not None and found[0] is version:  # ``id`` of the very same version
            made: T = found[1]
            return made
        made = render()
        self._renderings[key] = (version, made)
        return made

    def _span(self, tenant: str, at: datetime) -> int:
        """Which span between the tenant's version edges ``at`` falls in: every version of the
        tenant holds at all instants of a span or at none."""
        latest = self._latest.get(tenant)
        if latest is not None and latest[0] == at:
            return latest[1]
        edges = self._edges.get(tenant)
        if edges is None:
            found: set[datetime] = set()
            for f in fields(self):
                if not f.init:  # the memo's own fields
                    continue
                for v in getattr(self, f.name):
                    if v.tenant == tenant:
                        found.add(v.valid_from)
                        if v.valid_to is not None:
                            found.add(v.valid_to)
            edges = self._edges[tenant] = sorted(found)
        span = bisect.bisect_right(edges, at)
        self._latest[tenant] = (at, span)
        return span

    def _memo(self, lookup: str, tenant: str, at: datetime, answer: Callable[[], T]) -> T:
        key = (lookup, tenant, self._span(tenant, at))
        try:
            found: T = self._answers[key]
        except KeyError:
            found = self._answers[key] = answer()
        return found

    def leaderboards_at(self, tenant: str, at: datetime) -> tuple[Leaderboard, ...]:
        """The tenant's leaderboards in force at ``at``."""
        return self._memo(
            "leaderboards", tenant, at, lambda: _in_force(self.leaderboards, tenant, at)
        )

    def achievements_at(self, tenant: str, at: datetime) -> tuple[Achievement, ...]:
        """The tenant's achievements in force at ``at``."""
        return self._memo(
            "achievements", tenant, at, lambda: _in_force(self.achievements, tenant, at)
        )

    def achievement_rules_at(self, tenant: str, at: datetime) -> AchievementRules:
        """The tenant's achievements in force at ``at``, indexed by what completes them."""
        return self._memo(
            "achievement rules",
            tenant,
            at,
            lambda: AchievementRules(self.achievements_at(tenant, at)),
        )

    def points_at(self, tenant: str, at: datetime) -> PointsConfig:
        """The points systems in force at ``at`` with their active triggers, levels, boosts."""
        return self._memo("points", tenant, at, lambda: self._points_at(tenant, at))

    def _points_at(self, tenant: str, at: datetime) -> PointsConfig:
        systems = {s.id: s for s in _in_force(self.points_systems, tenant, at)}
        return PointsConfig(
            systems=MappingProxyType(systems),
            triggers=tuple(
                t
                for t in _in_force(self.points_triggers, tenant, at)
                if t.status == "active" and t.system_id in systems
            ),
            levels=tuple(
                lv for lv in _in_force(self.points_levels, tenant, at) if lv.system_id in systems
            ),
            boosts=tuple(
                b for b in _in_force(self.points_boosts, tenant, at) if b.system_id in systems
            ),
        )

    def streak_at(self, tenant: str, at: datetime) -> StreakSettings:
        """The tenant's streak settings at ``at`` (the defaults before any were saved)."""
        return self._memo("streak", tenant, at, lambda: self._streak_at(tenant, at))

    def _streak_at(self, tenant: str, at: datetime) -> StreakSettings:
        versions = _in_force(self.streak_settings, tenant, at)
        return versions[0].settings if versions else StreakSettings()

    def metric_at(self, tenant: str, key: str, at: datetime) -> MetricVersion | None:
        """The tenant's metric with ``key`` at ``at``, if any."""
        return self._metrics_at(tenant, at)[0].get(key)

    def metric_by_id_at(
        self, tenant: str, metric_id: uuid.UUID, at: datetime
    ) -> MetricVersion | None:
        """The tenant's metric ``metric_id`` as it was at ``at``, if it existed then."""
        return self._metrics_at(tenant, at)[1].get(metric_id)

    def _metrics_at(
        self, tenant: str, at: datetime
    ) -> tuple[Mapping[str, MetricVersion], Mapping[uuid.UUID, MetricVersion]]:
        def index() -> tuple[Mapping[str, MetricVersion], Mapping[uuid.UUID, MetricVersion]]:
            by_key: dict[str, MetricVersion] = {}
            by_id: dict[uuid.UUID, MetricVersion] = {}
            for metric in _in_force(self.metrics, tenant, at):
                by_key.setdefault(metric.key, metric)  # the first, as a scan finds it
                by_id.setdefault(metric.id, metric)
            return MappingProxyType(by_key), MappingProxyType(by_id)

        return self._memo("metrics", tenant, at, index)

    def attribute_keys_at(self, tenant: str, kind: AttributeType, at: datetime) -> frozenset[str]:
        """The keys of the tenant's attributes of ``kind`` at ``at``."""

        def index() -> Mapping[AttributeType, frozenset[str]]:
            keys: dict[AttributeType, set[str]] = {}
            for a in _in_force(self.attributes, tenant, at):
                keys.setdefault(a.type, set()).add(a.key)
            return MappingProxyType({k: frozenset(v) for k, v in keys.items()})

        return self._memo("attributes", tenant, at, index).get(kind, frozenset())


class _TenantVersion(Protocol):
    @property
    def tenant(self) -> str: ...

    def holds_at(self, at: datetime) -> bool: ...


V = TypeVar("V", bound=_TenantVersion)


def _in_force(versions: tuple[V, ...], tenant: str, at: datetime) -> tuple[V, ...]:
    """The tenant's ``versions`` that hold at ``at``, in their order."""
    return tuple(v for v in versions if v.tenant == tenant and v.holds_at(at))
