"""Folding commands into user state: the rules the processor, replay and tests all run."""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from projections.core.commands import Command, RecordMetricEvent, UpsertUser
from projections.core.model import ConfigHistory, UserKey, UserState
from projections.core.outcomes import (
    CommandRejected,
    MetricEventRecorded,
    Outcome,
    UserUpserted,
)
from projections.core.users import apply_patch
from projections.core.validation import RuleViolation, check_attribute_keys, check_metric_event
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


@dataclass(frozen=True)
class Decision:
    """One command and what the rules decided about it."""

    command: Command
    outcome: Outcome


@dataclass(frozen=True)
class BatchResult:
    """The changes a batch makes: new user states, daily deltas, new idempotency keys and one
    decision per command not decided before (duplicates of decided commands are dropped)."""

    users: Mapping[UserKey, UserState]
    changed_totals: frozenset[tuple[UserKey, uuid.UUID]]
    daily: Mapping[DailyKey, float]
    idempotency: Mapping[IdempotencyKey, uuid.UUID]
    decisions: Sequence[Decision]


def fold(projection: Projection, commands: Sequence[Command], config: ConfigHistory) -> BatchResult:
    """Apply ``commands`` in order to ``projection`` under ``config``."""
    users = dict(projection.users)
    decided = set(projection.decided)
    idempotency = dict(projection.idempotency)
    new_keys: dict[IdempotencyKey, uuid.UUID] = {}
    daily: dict[DailyKey, float] = {}
    changed_users: set[UserKey] = set()
    changed_totals: set[tuple[UserKey, uuid.UUID]] = set()
    decisions: list[Decision] = []

    for command in commands:
        if (command.tenant, command.id) in decided:
            continue  # the same command reached the topic twice: it counts once
        decided.add((command.tenant, command.id))
        key = (command.tenant, command.user_id)
        state = users.get(key) or UserState(command.tenant, command.user_id)
        outcome: Outcome
        try:
            if isinstance(command, RecordMetricEvent):
                state, recorded = _metric_event(state, command, config, idempotency)
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
            else:
                state, outcome = _upsert_user(state, command, config)
        except RuleViolation as violation:
            rejection = CommandRejected(command.id, violation.code, str(violation))
            decisions.append(Decision(command, rejection))
            continue
        if state is not users.get(key):
            users[key] = state
            changed_users.add(key)
        decisions.append(Decision(command, outcome))

    return BatchResult(
        users={k: users[k] for k in changed_users},
        changed_totals=frozenset(changed_totals),
        daily=daily,
        idempotency=new_keys,
        decisions=decisions,
    )


def _metric_event(
    state: UserState,
    event: RecordMetricEvent,
    config: ConfigHistory,
    idempotency: Mapping[IdempotencyKey, uuid.UUID],
) -> tuple[UserState, MetricEventRecorded]:
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
        return state, MetricEventRecorded(
            command_id=event.id,
            metric_id=metric.id,
            metric_key=metric.key,
            total=state.totals.get(metric.id, 0.0),
            day=local_date(event.received_at, profile.tz if profile else None),
            idempotency_key=event.idempotency_key,
            replayed=True,
        )
    total = state.totals.get(metric.id, 0.0) + event.value
    if not math.isfinite(total):
        raise RuleViolation(f"the total of {metric.key!r} would overflow")
    profile = apply_patch(state.profile, event.user, event.received_at)
    new_state = replace(state, profile=profile, totals={**state.totals, metric.id: total})
    return new_state, MetricEventRecorded(
        command_id=event.id,
        metric_id=metric.id,
        metric_key=metric.key,
        total=total,
        day=local_date(event.received_at, profile.tz),
        idempotency_key=event.idempotency_key,
        replayed=False,
    )


def _upsert_user(
    state: UserState, command: UpsertUser, config: ConfigHistory
) -> tuple[UserState, UserUpserted]:
    check_attribute_keys(
        config, command.tenant, "user", command.user.attributes, command.received_at
    )
    exists = state.profile is not None
    if command.mode == "create" and exists:
        raise RuleViolation(f"User with id {command.user_id!r} already exists", "conflict")
    if command.mode == "update" and not exists:
        raise RuleViolation(f"User with id {command.user_id!r} not found", "not_found")
    profile = apply_patch(state.profile, command.user, command.received_at)
    return replace(state, profile=profile), UserUpserted(command.id, created=not exists)
