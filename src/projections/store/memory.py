"""The in-memory twin of the projection store, for unit and contract tests."""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date

from projections.core.fold import BatchResult, DailyKey, IdempotencyKey, PauseStatus, Projection
from projections.core.model import ConfigHistory, UserKey, UserState
from projections.core.streaks import Pause, PeriodRecord, Transition
from projections.store.ports import BatchQuery, BatchRead, DeadLetter, OutcomeRow


@dataclass
class MemoryData:
    """The whole projection, in dictionaries."""

    checkpoints: dict[tuple[str, int], int] = field(default_factory=dict)
    users: dict[UserKey, UserState] = field(default_factory=dict)
    daily: dict[DailyKey, float] = field(default_factory=dict)
    idempotency: dict[IdempotencyKey, uuid.UUID] = field(default_factory=dict)
    outcomes: dict[tuple[str, uuid.UUID], OutcomeRow] = field(default_factory=dict)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    periods: dict[tuple[UserKey, str, date], PeriodRecord] = field(default_factory=dict)
    pauses: dict[tuple[str, uuid.UUID], tuple[UserKey, Pause, PauseStatus]] = field(
        default_factory=dict
    )
    outbox: list[tuple[UserKey, uuid.UUID, Transition]] = field(default_factory=list)


class _MemoryUnitOfWork:
    schema = "memory"

    def __init__(self, data: MemoryData, config: ConfigHistory) -> None:
        self.data = data
        self._config = config

    async def lock_checkpoints(self, topic: str, partitions: Iterable[int]) -> Mapping[int, int]:
        return {p: self.data.checkpoints.get((topic, p), -1) for p in partitions}

    async def load(
        self,
        users: Iterable[UserKey],
        commands: Iterable[tuple[str, uuid.UUID]],
        idempotency: Iterable[IdempotencyKey],
    ) -> Projection:
        return Projection(
            users={k: self.data.users[k] for k in users if k in self.data.users},
            decided=frozenset(c for c in commands if c in self.data.outcomes),
            idempotency={
                k: self.data.idempotency[k] for k in idempotency if k in self.data.idempotency
            },
        )

    async def read(self, query: BatchQuery) -> BatchRead:
        return BatchRead(
            await self.lock_checkpoints(query.topic, query.partitions),
            await self.load(query.users, query.commands, query.idempotency),
            self._config if query.tenants else ConfigHistory(),
        )

    async def write(self, part: BatchResult, outcomes: Sequence[OutcomeRow]) -> None:
        self.data.users.update(part.users)
        for user, period in part.streaks.periods:
            self.data.periods[(user, period.frequency, period.start)] = period
        for user, pause, status in part.streaks.pauses:
            self.data.pauses[(user[0], pause.id)] = (user, pause, status)
        self.data.outbox.extend(part.streaks.transitions)
        self.data.idempotency.update(part.idempotency)
        for row in outcomes:
            self.data.outcomes.setdefault((row.tenant, row.command_id), row)

    async def finish(
        self,
        batch: BatchResult,
        outcomes: Sequence[OutcomeRow],
        dead_letters: Sequence[DeadLetter],
        checkpoints: Mapping[tuple[str, int], int],
    ) -> None:
        for key, change in batch.daily.items():
            self.data.daily[key] = self.data.daily.get(key, 0.0) + change
        self.data.dead_letters.extend(dead_letters)
        self.data.checkpoints.update(checkpoints)


class MemoryProjectionStore:
    """Keeps the projection in dictionaries; a unit of work commits by swapping in its copy."""

    def __init__(self, config: ConfigHistory | None = None) -> None:
        self.data = MemoryData()
        self.config = config or ConfigHistory()

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[_MemoryUnitOfWork]:
        """A unit of work on a copy of the data, swapped in when the block ends cleanly."""
        work = _MemoryUnitOfWork(copy.deepcopy(self.data), self.config)
        yield work
        self.data = work.data
