"""Projecting a batch of records: decode, skip what is applied, fold, save in one transaction.

This is the heart of exactly-once effects. Within one unit of work the partitions' checkpoints
are locked first, so records at or below them are skipped (redelivery after a crash or a
rebalance), commands already decided are dropped by the fold (a record on the topic twice), and
dead letters are published before the transaction commits (so none is lost if it fails).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from ingest.contract import Command, ContractError, RecordMetricEvent, decode
from processors.user_cache import CachedBatch, UserStateCache
from projections.core.fold import BatchResult, IdempotencyKey, Projection, fold
from projections.core.model import ConfigHistory, UserKey, UserState
from projections.core.outcomes import CommandRejected, outcome_status
from projections.core.values import replace
from projections.store.ports import (
    DeadLetter,
    OutcomeRow,
    ProjectionStore,
    ProjectionUnitOfWork,
    SourceRecord,
)
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
    store: ProjectionStore,
    records: Sequence[SourceRecord],
    dead_letters: DeadLetterSink,
    cache: UserStateCache | None = None,
) -> BatchReport:
    """Apply ``records`` (from any partitions of one topic) exactly once.

    With a ``cache``, the states of users it holds (see :mod:`processors.user_cache`) are not
    read from the store, and the batch's states are put in it once the batch committed.
    """
    if not records:
        return BatchReport(0, 0, 0, 0)
    topic = records[0].topic
    async with store.unit_of_work() as uow:
        checkpoints = await uow.lock_checkpoints(topic, {r.partition for r in records})
        fresh = [r for r in records if r.offset > checkpoints[r.partition]]
        _warn_on_gaps(fresh, checkpoints)
        cached = cache.begin(uow.schema, topic, checkpoints) if cache is not None else None
        decoded = _decode(fresh)
        commands, sources, letters = decoded.commands, decoded.sources, decoded.letters
        if commands:
            homes = _homes(commands, sources, cached)
            projection = await _load(uow, commands, sources.keys(), homes, cached)
            times = [c.received_at for c in commands]
            config = await uow.config({c.tenant for c in commands}, min(times), max(times))
            result = fold(projection, commands, config)
        else:
            homes, projection, config = {}, Projection(), ConfigHistory()
            result = fold(projection, (), config)
        outcomes = _outcome_rows(result, sources, config, letters)
        if letters:
            await dead_letters.send(letters)
        new_checkpoints = {r.partition: r.offset for r in fresh}  # ascending offsets
        await uow.save(
            result, outcomes, letters, {(topic, p): o for p, o in new_checkpoints.items()}
        )
    if cached is not None:  # committed: what was read and written is what the store holds
        states = {**projection.users, **result.users}
        cached.committed(
            new_checkpoints,
            [
                (home, state)
                for key, state in states.items()
                if (home := homes.get(key)) is not None
            ],
        )
    return BatchReport(
        received=len(records),
        skipped=len(records) - len(fresh),
        applied=len(outcomes),
        dead_lettered=len(letters),
    )


@dataclass(frozen=True)
class _Decoded:
    commands: list[Command]
    sources: dict[tuple[str, uuid.UUID], SourceRecord]
    """Each command's first record (a command may be on the topic twice)."""
    letters: list[DeadLetter]


def _decode(fresh: Sequence[SourceRecord]) -> _Decoded:
    decoded = _Decoded([], {}, [])
    for record in fresh:
        try:
            command = decode(record.key, record.value)
        except ContractError as exc:
            decoded.letters.append(DeadLetter(record, f"undecodable: {exc}"))
            log.warning(
                "dead-lettering an undecodable record: %s",
                exc,
                extra={"partition": record.partition, "offset": record.offset},
            )
            continue
        decoded.commands.append(command)
        decoded.sources.setdefault((command.tenant, command.id), record)
    return decoded


def _homes(
    commands: Sequence[Command],
    sources: Mapping[tuple[str, uuid.UUID], SourceRecord],
    cached: CachedBatch | None,
) -> dict[UserKey, int | None]:
    """Each user's partition, or ``None`` when the user's state must not be cached (no cache,
    or a record of the user that is not on its key's partition)."""
    homes: dict[UserKey, int | None] = {}
    for command in commands:
        user = (command.tenant, command.user_id)
        record = sources[(command.tenant, command.id)]
        home = (
            record.partition
            if cached is not None and cached.at_home(record.key, record.partition)
            else None
        )
        homes[user] = home if homes.get(user, home) == home else None
    return homes


async def _load(
    uow: ProjectionUnitOfWork,
    commands: Sequence[Command],
    command_ids: Iterable[tuple[str, uuid.UUID]],
    homes: Mapping[UserKey, int | None],
    cached: CachedBatch | None,
) -> Projection:
    """What the fold needs: user states from the cache where it holds them, the rest (and the
    commands and idempotency keys already decided) from the store."""
    known: dict[UserKey, UserState] = {}
    if cached is not None:
        for user, partition in homes.items():
            state = cached.get(user, partition) if partition is not None else None
            if state is not None:
                known[user] = state
            elif partition is None:
                cached.forget(user)
    idem_keys: list[IdempotencyKey] = [
        (c.tenant, c.user_id, c.metric_key, c.idempotency_key)
        for c in commands
        if isinstance(c, RecordMetricEvent) and c.idempotency_key is not None
    ]
    stored = await uow.load(
        users=[user for user in homes if user not in known],
        commands=command_ids,
        idempotency=idem_keys,
    )
    return replace(stored, users={**stored.users, **known})


def _outcome_rows(
    result: BatchResult,
    sources: Mapping[tuple[str, uuid.UUID], SourceRecord],
    config: ConfigHistory,
    letters: list[DeadLetter],
) -> list[OutcomeRow]:
    """The stored outcome of each decision; commands rejected as invalid also become dead
    letters (appended to ``letters``)."""
    outcomes: list[OutcomeRow] = []
    for decision in result.decisions:
        command, outcome = decision.command, decision.outcome
        source = sources[(command.tenant, command.id)]
        if isinstance(outcome, CommandRejected) and outcome.code == "invalid":
            letters.append(DeadLetter(source, f"rejected: {outcome.reason}"))
            log.warning(
                "dead-lettering a command the rules reject as invalid: %s",
                outcome.reason,
                extra={
                    "command_id": str(command.id),
                    "tenant": command.tenant,
                    "partition": source.partition,
                    "offset": source.offset,
                },
            )
        outcomes.append(
            OutcomeRow(
                tenant=command.tenant,
                command_id=command.id,
                user_id=command.user_id,
                status=outcome_status(outcome),
                body=outcome_body(outcome, Names(config, command.tenant, command.received_at)),
                source=source,
                type=command.type,
                received_at=command.received_at,
            )
        )
    return outcomes


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
