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
from processors.user_cache import CachedBatch, UserStateCache
from projections.core.fold import BatchResult, Projection, fold, merged
from projections.core.model import ConfigHistory, UserKey, UserState
from projections.core.outcomes import CommandRejected, outcome_status
from projections.core.values import replace
from projections.store.ports import (
    BatchQuery,
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


PART_COMMANDS = 100
"""A batch of more commands is folded and written in parts of about this many, so that
PostgreSQL runs a part's writes while the next part is folded (folding a whole batch of 500
first left PostgreSQL idle for the fold and Python waiting for a third of the batch on the
writes at the end). A batch of at most this many is one part; so is every small batch whose
writes go as one statement (``projections.store.postgres.COMBINED_MAX``)."""


async def project_batch(
    store: ProjectionStore,
    records: Sequence[SourceRecord],
    dead_letters: DeadLetterSink,
    cache: UserStateCache | None = None,
    parts_of: int = PART_COMMANDS,
) -> BatchReport:
    """Apply ``records`` (from any partitions of one topic) exactly once.

    A batch of more than ``parts_of`` commands is folded and written in parts of about that
    many, whole users each.

    With a ``cache``, the states of users it holds (see :mod:`processors.user_cache`) are not
    read from the store, and the batch's states are put in it once the batch committed.

    What the batch reads is asked for with the checkpoints' lock, before the lock says which
    records are fresh: for every record (a record at or below its checkpoint only costs a
    read), and without the states the cache expects to serve (should the lock show the cache
    stale, those are read afterwards).
    """
    if not records:
        return BatchReport(0, 0, 0, 0)
    topic = records[0].topic
    decoded = [(record, _decode(record)) for record in records]
    commands = [(r, c) for r, c in decoded if not isinstance(c, ContractError)]
    async with store.unit_of_work() as uow:
        expected = (
            cache.expected(uow.schema, topic, _homes(commands, cache))
            if cache is not None
            else frozenset()
        )
        read = await uow.read(_query(topic, records, [c for _, c in commands], expected))
        checkpoints = read.checkpoints
        fresh = [(r, c) for r, c in decoded if r.offset > checkpoints[r.partition]]
        _warn_on_gaps([r for r, _ in fresh], checkpoints)
        batch = _fresh(fresh)
        cached = cache.begin(uow.schema, topic, checkpoints) if cache is not None else None
        homes = _homes(batch.commands, cache) if cached is not None else {}
        projection = await _projection(uow, read.projection, homes, cached, expected)
        config = read.config if batch.commands else ConfigHistory()
        parts: list[BatchResult] = []
        outcomes: list[OutcomeRow] = []
        for part_commands in _parts([c for _, c in batch.commands], parts_of):
            part = fold(projection, part_commands, config)
            part_outcomes = _outcome_rows(part, batch.sources, config, batch.letters)
            await uow.write(part, part_outcomes)
            parts.append(part)
            outcomes.extend(part_outcomes)
        result = merged(parts)
        if batch.letters:
            await dead_letters.send(batch.letters)
        new_checkpoints = {r.partition: r.offset for r, _ in fresh}  # ascending offsets
        await uow.finish(
            result, outcomes, batch.letters, {(topic, p): o for p, o in new_checkpoints.items()}
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
        dead_lettered=len(batch.letters),
    )


def _parts(commands: Sequence[Command], size: int) -> list[Sequence[Command]]:
    """``commands`` in parts of ``size`` or more (the last may have fewer), each user's
    commands in one part and in their order, so the parts fold apart to what the whole batch
    folds to (``projections.core.fold.merged``). One part when a command id is under two
    users: the fold counts such an id once, which parts folded apart would not."""
    if len(commands) <= size:
        return [commands]
    users: dict[UserKey, list[Command]] = {}
    owner: dict[tuple[str, uuid.UUID], str] = {}
    for command in commands:
        if owner.setdefault((command.tenant, command.id), command.user_id) != command.user_id:
            return [commands]
        users.setdefault((command.tenant, command.user_id), []).append(command)
    parts: list[Sequence[Command]] = []
    part: list[Command] = []
    for own in users.values():
        part.extend(own)
        if len(part) >= size:
            parts.append(part)
            part = []
    if part:
        parts.append(part)
    return parts


def _decode(record: SourceRecord) -> Command | ContractError:
    try:
        return decode(record.key, record.value)
    except ContractError as exc:
        return exc


def _query(
    topic: str,
    records: Sequence[SourceRecord],
    commands: Sequence[Command],
    expected: frozenset[UserKey],
) -> BatchQuery:
    """What the batch reads: about every command of ``records``, fresh or not."""
    if not commands:
        return BatchQuery(topic, frozenset(r.partition for r in records))
    times = [c.received_at for c in commands]
    return BatchQuery(
        topic,
        frozenset(r.partition for r in records),
        users=frozenset((c.tenant, c.user_id) for c in commands) - expected,
        commands=frozenset((c.tenant, c.id) for c in commands),
        idempotency=frozenset(
            (c.tenant, c.user_id, c.metric_key, c.idempotency_key)
            for c in commands
            if isinstance(c, RecordMetricEvent) and c.idempotency_key is not None
        ),
        tenants=frozenset(c.tenant for c in commands),
        since=min(times),
        until=max(times),
    )


@dataclass(frozen=True)
class _Batch:
    commands: list[tuple[SourceRecord, Command]]
    sources: dict[tuple[str, uuid.UUID], SourceRecord]
    """Each command's first record (a command may be on the topic twice)."""
    letters: list[DeadLetter]


def _fresh(fresh: Sequence[tuple[SourceRecord, Command | ContractError]]) -> _Batch:
    """The records above their checkpoints: commands to fold, and dead letters."""
    batch = _Batch([], {}, [])
    for record, command in fresh:
        if isinstance(command, ContractError):
            batch.letters.append(DeadLetter(record, f"undecodable: {command}"))
            log.warning(
                "dead-lettering an undecodable record: %s",
                command,
                extra={"partition": record.partition, "offset": record.offset},
            )
            continue
        batch.commands.append((record, command))
        batch.sources.setdefault((command.tenant, command.id), record)
    return batch


def _homes(
    commands: Sequence[tuple[SourceRecord, Command]], cache: UserStateCache | None
) -> dict[UserKey, int | None]:
    """Each user's partition, or ``None`` when the user's state must not be cached (no cache,
    or a record of the user that is not on its key's partition)."""
    homes: dict[UserKey, int | None] = {}
    for record, command in commands:
        user = (command.tenant, command.user_id)
        home = (
            record.partition
            if cache is not None and cache.at_home(record.key, record.partition)
            else None
        )
        homes[user] = home if homes.get(user, home) == home else None
    return homes


async def _projection(
    uow: ProjectionUnitOfWork,
    stored: Projection,
    homes: Mapping[UserKey, int | None],
    cached: CachedBatch | None,
    expected: frozenset[UserKey],
) -> Projection:
    """What the fold needs: user states from the cache where it holds them, the rest from
    ``stored``; the ``expected`` states the cache no longer serves (the lock showed a checkpoint
    this worker did not write) are read now."""
    if cached is None:
        return stored
    known: dict[UserKey, UserState] = {}
    for user, partition in homes.items():
        state = cached.get(user, partition) if partition is not None else None
        if state is not None:
            known[user] = state
        elif partition is None:
            cached.forget(user)
    missing = [u for u in homes if u in expected and u not in known]
    late = (await uow.load(missing, (), ())).users if missing else {}
    return replace(stored, users={**stored.users, **late, **known})


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
        await uow.finish(empty, (), letters, {(topic, r.partition): r.offset for r in fresh})
    return BatchReport(len(records), len(records) - len(fresh), 0, len(letters))
