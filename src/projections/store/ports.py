"""The storage port the batch projector writes through, implemented for PostgreSQL and memory.

A unit of work is one transaction: it locks the partitions' checkpoints (fencing any other
worker that still believes it owns them), loads what the batch touches, and saves the fold's
result, the outcomes, the dead letters and the new checkpoints together (the users' part of a
large batch in parts, as they are folded, then the rest). :meth:`read` asks for
the locks, the states and the configuration at once, so a store can answer them in one round
trip.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from projections.core.fold import BatchResult, IdempotencyKey, Projection
from projections.core.model import ConfigHistory, UserKey


@dataclass(frozen=True)
class BatchQuery:
    """What a batch reads before it folds (:meth:`ProjectionUnitOfWork.read`)."""

    topic: str
    partitions: frozenset[int]
    """Whose checkpoints to lock."""
    users: frozenset[UserKey] = frozenset()
    """Whose states to load."""
    commands: frozenset[tuple[str, uuid.UUID]] = frozenset()
    """Which of these commands are decided already."""
    idempotency: frozenset[IdempotencyKey] = frozenset()
    """Which of these idempotency keys are used already."""
    tenants: frozenset[str] = frozenset()
    """Whose configuration versions holding at some time in [since, until] to load (none when
    empty)."""
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class BatchRead:
    """The answers to a :class:`BatchQuery`."""

    checkpoints: Mapping[int, int]
    """The last applied offset per partition (-1 when none), locked."""
    projection: Projection
    config: ConfigHistory


@dataclass(frozen=True)
class SourceRecord:
    """One record of the commands topic, as the processor received it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True)
class DeadLetter:
    """A record the processor could not apply, with the reason."""

    record: SourceRecord
    reason: str


@dataclass(frozen=True)
class OutcomeRow:
    """A decided command's outcome, stored for synchronous answers and idempotent reads."""

    tenant: str
    command_id: uuid.UUID
    user_id: str
    status: str
    body: Mapping[str, object]
    source: SourceRecord
    type: str = ""
    """The command's type (``metric.event``, ``user.tick``…)."""
    received_at: datetime | None = None


class ProjectionUnitOfWork(Protocol):
    """One transaction of the projection store (see the module's docstring)."""

    schema: str
    """Where it writes: the projection schema (a replay's switch changes it)."""

    async def lock_checkpoints(self, topic: str, partitions: Iterable[int]) -> Mapping[int, int]:
        """Lock and return the last applied offset per partition (-1 when none)."""
        ...

    async def load(
        self,
        users: Iterable[UserKey],
        commands: Iterable[tuple[str, uuid.UUID]],
        idempotency: Iterable[IdempotencyKey],
    ) -> Projection:
        """The projection restricted to what a batch names."""
        ...

    async def read(self, query: BatchQuery) -> BatchRead:
        """:meth:`lock_checkpoints`, :meth:`load` and the configuration of ``query`` at once.
        The batch is folded with that configuration, and :meth:`write` renders what it stores
        with its names."""
        ...

    async def write(self, part: BatchResult, outcomes: Sequence[OutcomeRow]) -> None:
        """Write what ``part`` — the fold of some users' commands, every command of theirs in
        the batch — changed of its own: the users' states and histories, their outbox and
        webhook messages, and the ``outcomes`` of its commands. A batch may be written in
        several parts, each naming users no other part names; a store may start on a part's
        writes while the next part is folded."""
        ...

    async def finish(
        self,
        batch: BatchResult,
        outcomes: Sequence[OutcomeRow],
        dead_letters: Sequence[DeadLetter],
        checkpoints: Mapping[tuple[str, int], int],
    ) -> None:
        """Write what the ``batch`` (the parts :meth:`write` wrote, merged by
        ``projections.core.fold.merged``) changed as a whole — the daily changes and the
        rollups they move —, the dead letters and the new checkpoints, and announce every
        outcome; after the last part. Nothing of the unit of work is visible until it commits."""
        ...


class ProjectionStore(Protocol):
    """Where the projector writes: one unit of work per batch."""

    def unit_of_work(self) -> AbstractAsyncContextManager[ProjectionUnitOfWork]:
        """A transaction that commits on a clean exit and rolls back on an exception."""
        ...
