"""Projecting a batch of records: decode, skip what is applied, fold, save in one transaction.

This is the heart of exactly-once effects. Within one unit of work the partitions' checkpoints
are locked first, so records at or below them are skipped (redelivery after a crash or a
rebalance), commands already decided are dropped by the fold (a record on the topic twice), and
dead letters are published before the transaction commits (so none is lost if it fails).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from ingest.contract import Command, ContractError, RecordMetricEvent, decode
from projections.core.fold import IdempotencyKey, Projection, fold
from projections.core.model import ConfigHistory
from projections.core.outcomes import CommandRejected, outcome_status
from projections.store.ports import DeadLetter, OutcomeRow, ProjectionStore, SourceRecord
from projections.store.trophy_json import Names, outcome_body

log = logging.getLogger(__name__)


class DeadLetterSink(Protocol):
    """Where refused records go: the dead-letter topic (a list in tests)."""

    async def send(self, letters: Sequence[DeadLetter]) -> None:
        """Durably publish ``letters``; raise if that is not possible."""
        ...


@dataclass(frozen=True)
class BatchReport:
    """How many records of a batch were received, skipped (at or below the checkpoint), applied and
    dead-lettered."""

    received: int
    skipped: int
    applied: int
    dead_lettered: int


async def project_batch(
    store: ProjectionStore, records: Sequence[SourceRecord], dead_letters: DeadLetterSink
) -> BatchReport:
    """Apply ``records`` (from any partitions of one topic) exactly once."""
    if not records:
        return BatchReport(0, 0, 0, 0)
    topic = records[0].topic
    async with store.unit_of_work() as uow:
        checkpoints = await uow.lock_checkpoints(topic, {r.partition for r in records})
        fresh = [r for r in records if r.offset > checkpoints[r.partition]]
        _warn_on_gaps(fresh, checkpoints)

        commands: list[Command] = []
        sources: dict[tuple[str, uuid.UUID], SourceRecord] = {}
        letters: list[DeadLetter] = []
        for record in fresh:
            try:
                command = decode(record.key, record.value)
            except ContractError as exc:
                letters.append(DeadLetter(record, f"undecodable: {exc}"))
                continue
            commands.append(command)
            sources.setdefault((command.tenant, command.id), record)

        if commands:
            idem_keys: list[IdempotencyKey] = [
                (c.tenant, c.user_id, c.metric_key, c.idempotency_key)
                for c in commands
                if isinstance(c, RecordMetricEvent) and c.idempotency_key is not None
            ]
            projection = await uow.load(
                users={(c.tenant, c.user_id) for c in commands},
                commands=sources.keys(),
                idempotency=idem_keys,
            )
            times = [c.received_at for c in commands]
            config = await uow.config({c.tenant for c in commands}, min(times), max(times))
            result = fold(projection, commands, config)
        else:
            config = ConfigHistory()
            result = fold(Projection(), (), config)

        outcomes: list[OutcomeRow] = []
        for decision in result.decisions:
            command, outcome = decision.command, decision.outcome
            source = sources[(command.tenant, command.id)]
            if isinstance(outcome, CommandRejected) and outcome.code == "invalid":
                letters.append(DeadLetter(source, f"rejected: {outcome.reason}"))
            outcomes.append(
                OutcomeRow(
                    tenant=command.tenant,
                    command_id=command.id,
                    user_id=command.user_id,
                    status=outcome_status(outcome),
                    body=outcome_body(outcome, Names(config, command.tenant, command.received_at)),
                    source=source,
                )
            )

        if letters:
            await dead_letters.send(letters)
        new_checkpoints = {(topic, r.partition): r.offset for r in fresh}  # ascending offsets
        await uow.save(result, outcomes, letters, new_checkpoints)
    return BatchReport(
        received=len(records),
        skipped=len(records) - len(fresh),
        applied=len(outcomes),
        dead_lettered=len(letters),
    )


def _warn_on_gaps(fresh: Sequence[SourceRecord], checkpoints: Mapping[int, int]) -> None:
    seen: set[int] = set()
    for record in fresh:
        if record.partition in seen:
            continue
        seen.add(record.partition)
        last = checkpoints[record.partition]
        if last >= 0 and record.offset > last + 1:
            log.error(
                "partition %d: first record at offset %d but checkpoint is %d; records between "
                "were never applied here (consumer offsets ahead of the projection?)",
                record.partition,
                record.offset,
                last,
            )


async def dead_letter_records(
    store: ProjectionStore, records: Sequence[SourceRecord], reason: str, sink: DeadLetterSink
) -> BatchReport:
    """Route ``records`` to the dead-letter topic and move the checkpoint past them.

    For records the database refuses as data (see :mod:`processors.app`): nothing of theirs is
    applied, and the partition moves on instead of retrying them forever.
    """
    topic = records[0].topic
    async with store.unit_of_work() as uow:
        checkpoints = await uow.lock_checkpoints(topic, {r.partition for r in records})
        fresh = [r for r in records if r.offset > checkpoints[r.partition]]
        letters = [DeadLetter(r, reason) for r in fresh]
        if letters:
            await sink.send(letters)
        empty = fold(Projection(), (), ConfigHistory())
        await uow.save(empty, (), letters, {(topic, r.partition): r.offset for r in fresh})
    return BatchReport(len(records), len(records) - len(fresh), 0, len(letters))
