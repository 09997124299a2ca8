"""State and configuration the rules read: users, their totals, and versioned configuration."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, TypeAlias

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


@dataclass(frozen=True)
class UserState:
    """Everything the rules know about one user: the profile (``None`` before the user exists)
    and the metric totals by metric id."""

    tenant: str
    user_id: str
    profile: UserProfile | None = None
    totals: Mapping[uuid.UUID, float] = field(default_factory=dict)

    @property
    def key(self) -> UserKey:
        return (self.tenant, self.user_id)


@dataclass(frozen=True)
class Versioned:
    """The interval [valid_from, valid_to) in which one version of a configuration row holds."""

    valid_from: datetime
    valid_to: datetime | None

    def holds_at(self, at: datetime) -> bool:
        return self.valid_from <= at and (self.valid_to is None or at < self.valid_to)


@dataclass(frozen=True)
class MetricVersion(Versioned):
    tenant: str
    id: uuid.UUID
    key: str
    name: str
    unit_type: str = "number"
    units: str | None = None


AttributeType: TypeAlias = Literal["user", "event"]


@dataclass(frozen=True)
class AttributeVersion(Versioned):
    tenant: str
    id: uuid.UUID
    key: str
    name: str
    type: AttributeType


@dataclass(frozen=True)
class ConfigHistory:
    """Configuration versions covering some span of time, looked up as of a command's time."""

    metrics: tuple[MetricVersion, ...] = ()
    attributes: tuple[AttributeVersion, ...] = ()

    def metric_at(self, tenant: str, key: str, at: datetime) -> MetricVersion | None:
        for metric in self.metrics:
            if metric.tenant == tenant and metric.key == key and metric.holds_at(at):
                return metric
        return None

    def attribute_keys_at(self, tenant: str, kind: AttributeType, at: datetime) -> frozenset[str]:
        return frozenset(
            a.key
            for a in self.attributes
            if a.tenant == tenant and a.type == kind and a.holds_at(at)
        )
