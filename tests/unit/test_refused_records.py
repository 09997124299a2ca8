"""A record the database refuses as data is isolated and dead-lettered, not retried forever."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg
import pytest

from ingest.contract import ContractError, RecordMetricEvent, UserPatch, decode, encode, record_key
from processors.app import project_until_committed
from projections.core.fold import BatchResult
from projections.store.memory import MemoryProjectionStore, _MemoryUnitOfWork
from projections.store.ports import OutcomeRow, SourceRecord
from tests.unit.test_fold import CONFIG, METRIC, T0, Letters


class RefusingUnitOfWork(_MemoryUnitOfWork):
    async def write(self, part: BatchResult, outcomes: Sequence[OutcomeRow]) -> None:
        if any(o.user_id == "refused" for o in outcomes):
            raise psycopg.errors.NumericValueOutOfRange("value out of range")
        await super().write(part, outcomes)


class RefusingStore(MemoryProjectionStore):
    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[Any]:
        work = RefusingUnitOfWork(self.data, self.config)
        yield work


def record(offset: int, user: str) -> SourceRecord:
    command = RecordMetricEvent(
        uuid.UUID(int=offset + 100), "", user, T0, "m", 1.0, {}, UserPatch()
    )
    return SourceRecord("t", 0, offset, record_key("", user), encode(command))


async def test_the_refused_record_is_dead_lettered_and_the_rest_applied() -> None:
    store = RefusingStore(CONFIG)
    records = [record(0, "a"), record(1, "b"), record(2, "refused"), record(3, "a")]
    letters = Letters()
    report = await project_until_committed(store, records, letters, retry_max_s=0.01)
    assert [letter.record.offset for letter in letters.sent] == [2]
    assert "refused by the database" in letters.sent[0].reason
    assert store.data.users[("", "a")].totals[METRIC.id] == 2.0
    assert store.data.users[("", "b")].totals[METRIC.id] == 1.0
    assert ("", "refused") not in store.data.users
    assert store.data.checkpoints[("t", 0)] == 3
    assert report.applied == 3
    assert report.dead_lettered == 1


@pytest.mark.parametrize("field", ['"name":"a\\u0000b"', '"attributes":{"k\\u0000":"v"}'])
def test_nul_characters_are_refused_by_the_contract(field: str) -> None:
    value = encode(RecordMetricEvent(uuid.uuid4(), "", "u", T0, "m", 1.0, {}, UserPatch()))
    value = value.replace(b'"user":{"id":"u"', b'"user":{"id":"u",' + field.encode())
    with pytest.raises(ContractError, match="NUL"):
        decode(None, value)
