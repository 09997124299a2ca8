"""The outbox: what each command did that webhooks announce, in order, as rows to store with
the projection (and compared by a replay). The messages delivered are rendered separately, in
Trophy's payloads, by :mod:`projections.store.webhook_messages`.

The bodies are for the store's JSON (``projections.store.connections.dump_json``) only: UUIDs
and dates are left to orjson, which writes them as ``str()`` and ``isoformat()`` would."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, TypeAlias

from projections.core.fold import BatchResult
from projections.store.codecs import transition_json

OutboxRow: TypeAlias = tuple[str, uuid.UUID, int, str, str, datetime, dict[str, Any]]
"""(tenant, command id, sequence within the command, user id, kind, when, body)."""


def outbox_rows(result: BatchResult) -> list[OutboxRow]:
    """Streak transitions, achievement completions (not backdated ones), points changes, level
    changes and leaderboard entry changes of a batch, numbered within each command."""
    events: list[tuple[tuple[str, str], uuid.UUID, str, datetime, dict[str, Any]]] = []
    for key, command_id, transition in result.streaks.transitions:
        events.append(
            (key, command_id, transition.kind, transition.at, transition_json(transition))
        )
    for key, command_id, completion in result.rewards.completions:
        if not completion.backdated:
            body: dict[str, Any] = {"achievementId": completion.achievement.id}
            events.append((key, command_id, "achievement.completed", completion.at, body))
    for key, command_id, record in result.rewards.awards:
        award = record.award
        body = {
            "systemId": award.system_id,
            "awardId": award.id,
            "awarded": award.awarded,
            "total": award.total,
        }
        events.append((key, command_id, "points.changed", award.at, body))
    for key, command_id, change in result.rewards.levels:
        body = {
            "systemId": change.system_id,
            "previousLevelId": change.previous.id if change.previous else None,
            "newLevelId": change.current.id if change.current else None,
        }
        events.append((key, command_id, "points.level_changed", _when(result, command_id), body))
    for key, command_id, entry in result.leaderboards:
        body = {
            "leaderboardId": entry.board.id,
            "run": entry.run.start,
            "breakdownAttributeValues": list(entry.entry.group or ()),
            "previousValue": entry.previous.value if entry.previous is not None else None,
            "value": entry.entry.value,
        }
        events.append((key, command_id, "leaderboard.entry_changed", entry.at, body))
    seqs: dict[tuple[str, uuid.UUID], int] = {}
    rows: list[OutboxRow] = []
    for (tenant, user_id), command_id, kind, at, body in events:
        seq = seqs[(tenant, command_id)] = seqs.get((tenant, command_id), -1) + 1
        rows.append((tenant, command_id, seq, user_id, kind, at, body))
    return rows


def _when(result: BatchResult, command_id: uuid.UUID) -> datetime:
    for decision in result.decisions:
        if decision.command.id == command_id:
            return decision.command.received_at
    raise LookupError(command_id)  # pragma: no cover - every change comes from a decision
