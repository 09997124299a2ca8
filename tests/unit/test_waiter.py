"""The outcome waiter: a notification carrying an outcome resolves its request without a read;
one naming it reads it (once, and only for requests still waiting)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, cast

from ingest.waiter import OutcomeWaiter
from projections.store.decided import notification_payloads
from projections.store.ports import OutcomeRow, SourceRecord
from projections.store.reads import ProjectionReader, StoredOutcome

SOURCE = SourceRecord("commands", 0, 0, None, None)


class StoredReader(ProjectionReader):
    """Outcomes from a dictionary; remembers what it was asked to read."""

    def __init__(self, stored: Iterable[StoredOutcome]) -> None:
        super().__init__(cast(Any, None))
        self.stored = {(o.tenant, o.command_id): o for o in stored}
        self.asked: list[list[tuple[str, uuid.UUID]]] = []

    async def outcomes(self, keys: Iterable[tuple[str, uuid.UUID]]) -> list[StoredOutcome]:
        wanted = list(keys)
        self.asked.append(wanted)
        return [self.stored[k] for k in wanted if k in self.stored]


def row(n: int) -> OutcomeRow:
    return OutcomeRow("acme", uuid.UUID(int=n), f"user-{n}", "applied", {"n": n}, SOURCE)


def stored(r: OutcomeRow) -> StoredOutcome:
    return StoredOutcome(r.tenant, r.command_id, r.user_id, r.status, r.body)


async def test_an_outcome_carried_whole_resolves_its_request_without_a_read() -> None:
    reader = StoredReader([])
    waiter = OutcomeWaiter(reader)
    mine = row(1)
    async with waiter.expecting(mine.tenant, mine.command_id) as awaiter:
        for payload in notification_payloads([row(0), mine]):
            await waiter.on_notification(payload)
        assert await awaiter.result(1.0) == stored(mine)
    assert reader.asked == []


async def test_an_outcome_named_is_read_only_when_a_request_waits_for_it() -> None:
    rows = [row(n) for n in range(100)]  # a large batch: ids only
    reader = StoredReader(stored(r) for r in rows)
    waiter = OutcomeWaiter(reader)
    mine = rows[42]
    async with waiter.expecting(mine.tenant, mine.command_id) as awaiter:
        for payload in notification_payloads(rows):
            await waiter.on_notification(payload)
        assert await awaiter.result(1.0) == stored(mine)
    assert reader.asked == [[(mine.tenant, mine.command_id)]]
