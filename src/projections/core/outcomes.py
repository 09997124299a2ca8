"""What the rules decided for each command, returned as data and stored with the projection."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, TypeAlias

RejectionCode: TypeAlias = Literal["not_found", "conflict", "invalid"]


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


Outcome: TypeAlias = MetricEventRecorded | UserUpserted | CommandRejected


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
        }
    if isinstance(outcome, UserUpserted):
        return {"kind": "user.upsert", "created": outcome.created}
    return {"kind": "rejected", "code": outcome.code, "error": outcome.reason}
