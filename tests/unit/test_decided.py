"""The notification of decided commands: whole outcomes for small batches, ids otherwise, and
never a payload PostgreSQL would refuse."""

from __future__ import annotations

import uuid

from projections.store.decided import (
    PAYLOAD_LIMIT,
    WHOLE_MOST,
    notification_payloads,
    read_payload,
)
from projections.store.ports import OutcomeRow, SourceRecord
from projections.store.reads import StoredOutcome

SOURCE = SourceRecord("commands", 0, 0, None, None)


def row(n: int, body: dict[str, object] | None = None) -> OutcomeRow:
    return OutcomeRow(
        "acme", uuid.UUID(int=n), f"user-{n}", "applied", body or {"total": n}, SOURCE
    )


def told(rows: list[OutcomeRow]) -> tuple[list[StoredOutcome], list[tuple[str, uuid.UUID]]]:
    payloads = notification_payloads(rows)
    assert all(len(p.encode()) <= PAYLOAD_LIMIT for p in payloads)
    read = [read_payload(p) for p in payloads]
    return [o for r in read for o in r.outcomes], [i for r in read for i in r.ids]


def test_a_small_batch_tells_its_outcomes_whole() -> None:
    rows = [row(n) for n in range(WHOLE_MOST)]
    outcomes, ids = told(rows)
    assert ids == []
    assert outcomes == [
        StoredOutcome(r.tenant, r.command_id, r.user_id, r.status, r.body) for r in rows
    ]


def test_a_large_batch_tells_ids_only_in_payloads_within_the_limit() -> None:
    rows = [row(n) for n in range(2_000)]
    outcomes, ids = told(rows)
    assert outcomes == []
    assert ids == [(r.tenant, r.command_id) for r in rows]
    assert len(notification_payloads(rows)) > 1


def test_an_outcome_too_large_for_a_payload_is_told_by_its_id() -> None:
    big = row(1, {"text": "x" * PAYLOAD_LIMIT})
    outcomes, ids = told([row(0), big, row(2)])
    assert [o.command_id for o in outcomes] == [uuid.UUID(int=0), uuid.UUID(int=2)]
    assert ids == [("acme", big.command_id)]
