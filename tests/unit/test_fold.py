"""Property tests of the core, run through the projector against the in-memory store."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.contract import (
    RecordMetricEvent,
    UpsertUser,
    UserPatch,
    decode,
    encode,
    record_key,
)
from processors.projector import project_batch
from projections.core.fold import Projection, fold
from projections.core.model import ConfigHistory, MetricVersion
from projections.core.outcomes import CommandRejected
from projections.store.memory import MemoryProjectionStore
from projections.store.ports import DeadLetter, SourceRecord

T0 = datetime(2026, 3, 28, tzinfo=UTC)
METRIC = MetricVersion(
    valid_from=T0 - timedelta(days=1),
    valid_to=None,
    tenant="",
    id=uuid.UUID(int=1),
    key="m",
    name="M",
)
CONFIG = ConfigHistory(metrics=(METRIC,))


class Letters:
    def __init__(self) -> None:
        self.sent: list[DeadLetter] = []

    async def send(self, letters: Sequence[DeadLetter]) -> None:
        self.sent.extend(letters)


def _id(n: int) -> uuid.UUID:
    return uuid.UUID(int=n + 1000)


commands = st.lists(
    st.tuples(
        st.integers(0, 3),  # user
        st.sampled_from([1.0, 2.0, -1.0, 0.5, 10.0]),
        st.one_of(st.none(), st.sampled_from(["a", "b"])),  # idempotency key
        st.integers(0, 60 * 72),  # minutes after T0
        st.sampled_from([None, "America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe"]),
        st.booleans(),  # an upsert instead of an event
    ),
    max_size=40,
)


def build(spec: list[tuple[int, float, str | None, int, str | None, bool]]) -> list[SourceRecord]:
    records = []
    for n, (user, value, idem, minutes, tz, upsert) in enumerate(spec):
        at = T0 + timedelta(minutes=minutes)
        patch = UserPatch(tz=tz) if tz else UserPatch()
        uid = f"u{user}"
        command: RecordMetricEvent | UpsertUser
        if upsert:
            command = UpsertUser(_id(n), "", uid, at, patch, "identify")
        else:
            command = RecordMetricEvent(_id(n), "", uid, at, "m", value, {}, patch, idem)
        records.append(SourceRecord("t", 0, n, record_key("", uid), encode(command)))
    return records


async def run(store: MemoryProjectionStore, records: list[SourceRecord]) -> Letters:
    letters = Letters()
    await project_batch(store, records, letters)
    return letters


@settings(max_examples=150, deadline=None)
@given(commands, st.integers(0, 40))
async def test_folding_at_once_equals_prefix_persist_rest(spec, cut) -> None:  # type: ignore[no-untyped-def]
    records = build(spec)
    whole = MemoryProjectionStore(CONFIG)
    await run(whole, records)
    parts = MemoryProjectionStore(CONFIG)
    await run(parts, records[:cut])
    await run(parts, records[cut:])
    assert parts.data.users == whole.data.users
    assert parts.data.daily == whole.data.daily
    assert parts.data.outcomes.keys() == whole.data.outcomes.keys()


@settings(max_examples=200, deadline=None)
@given(commands, st.integers(1, 5), st.lists(st.tuples(st.integers(0, 39), st.integers(0, 39))))
async def test_a_batch_folded_in_parts_stores_what_it_stores_folded_whole(  # type: ignore[no-untyped-def]
    spec, size, same_ids
) -> None:
    """Parts of whole users (``parts_of``), commands on the topic twice, and a command id under
    two users (the fold counts it once: such a batch must stay one part)."""
    records = build(spec)
    for source, target in same_ids:  # command ``target`` takes the id of command ``source``
        if source < len(records) and target < len(records):
            earlier = decode(records[source].key, records[source].value)
            later = decode(records[target].key, records[target].value)
            value = encode(dataclasses.replace(later, id=earlier.id))
            records[target] = SourceRecord("t", 0, target, records[target].key, value)
    records += [
        SourceRecord("t", 0, len(records) + i, r.key, r.value) for i, r in enumerate(records[:3])
    ]
    whole, parts = MemoryProjectionStore(CONFIG), MemoryProjectionStore(CONFIG)
    await project_batch(whole, records, Letters(), parts_of=len(records) + 1)
    await project_batch(parts, records, Letters(), parts_of=size)
    for store in (whole, parts):
        store.data.outbox.sort(key=repr)  # the parts list their users' transitions together
    assert parts.data == whole.data


@settings(max_examples=150, deadline=None)
@given(commands)
async def test_redelivery_and_duplicates_change_nothing(spec) -> None:  # type: ignore[no-untyped-def]
    records = build(spec)
    once = MemoryProjectionStore(CONFIG)
    await run(once, records)
    again = MemoryProjectionStore(CONFIG)
    await run(again, records)
    await run(again, records)  # redelivered: skipped by the checkpoint
    duplicated = [SourceRecord("t", 0, i, r.key, r.value) for i, r in enumerate(records + records)]
    twice = MemoryProjectionStore(CONFIG)
    await run(twice, duplicated)  # on the topic twice: dropped by command id
    for store in (again, twice):
        assert store.data.users == once.data.users
        assert store.data.daily == once.data.daily


@settings(max_examples=150, deadline=None)
@given(commands)
async def test_totals_are_the_sum_of_applied_events_and_daily_changes(spec) -> None:  # type: ignore[no-untyped-def]
    store = MemoryProjectionStore(CONFIG)
    await run(store, build(spec))
    expected: dict[str, float] = {}
    seen_keys: set[tuple[str, str]] = set()
    for user, value, idem, _, _, upsert in spec:
        if upsert:
            continue
        if idem is not None:
            if (f"u{user}", idem) in seen_keys:
                continue
            seen_keys.add((f"u{user}", idem))
        expected[f"u{user}"] = expected.get(f"u{user}", 0.0) + value
    totals = {k[1]: s.totals.get(METRIC.id, 0.0) for k, s in store.data.users.items()}
    assert {u: t for u, t in totals.items() if u in expected} == expected
    for user, total in expected.items():
        daily = sum(c for (_, u, _, _), c in store.data.daily.items() if u == user)
        assert abs(daily - total) < 1e-9


def test_unknown_metric_and_undeclared_attributes_are_rejected() -> None:
    event = RecordMetricEvent(_id(1), "", "u", T0, "nope", 1, {}, UserPatch())
    with_attr = RecordMetricEvent(_id(2), "", "u", T0, "m", 1, {"device": "x"}, UserPatch())
    result = fold(Projection(), [event, with_attr], CONFIG)
    outcomes = [d.outcome for d in result.decisions]
    assert all(isinstance(o, CommandRejected) and o.code == "invalid" for o in outcomes)
    assert "nope" in outcomes[0].reason  # type: ignore[union-attr]
    assert "device" in outcomes[1].reason  # type: ignore[union-attr]
    assert not result.users


def test_metric_deleted_before_the_event_was_received_rejects_it() -> None:
    closed = ConfigHistory(
        metrics=(
            MetricVersion(
                valid_from=T0 - timedelta(days=2),
                valid_to=T0,
                tenant="",
                id=METRIC.id,
                key="m",
                name="M",
            ),
        )
    )
    before = RecordMetricEvent(_id(1), "", "u", T0 - timedelta(seconds=1), "m", 1, {}, UserPatch())
    after = RecordMetricEvent(_id(2), "", "u", T0, "m", 1, {}, UserPatch())
    result = fold(Projection(), [before, after], closed)
    assert not isinstance(result.decisions[0].outcome, CommandRejected)
    assert isinstance(result.decisions[1].outcome, CommandRejected)


def test_create_conflict_and_update_of_unknown_user() -> None:
    create = UpsertUser(_id(1), "", "u", T0, UserPatch(name="A"), "create")
    again = UpsertUser(_id(2), "", "u", T0, UserPatch(name="B"), "create")
    update_other = UpsertUser(_id(3), "", "v", T0, UserPatch(name="C"), "update")
    result = fold(Projection(), [create, again, update_other], CONFIG)
    codes = [getattr(d.outcome, "code", "ok") for d in result.decisions]
    assert codes == ["ok", "conflict", "not_found"]
    profile = result.users[("", "u")].profile
    assert profile is not None
    assert profile.name == "A"


async def test_undecodable_records_are_dead_lettered_not_dropped() -> None:
    store = MemoryProjectionStore(CONFIG)
    records = [SourceRecord("t", 0, 0, b"k", b"garbage"), *build([(0, 1.0, None, 0, None, False)])]
    records[1] = SourceRecord("t", 0, 1, records[1].key, records[1].value)
    letters = await run(store, records)
    assert [letter.record.offset for letter in letters.sent] == [0]
    assert "not JSON" in letters.sent[0].reason
    assert store.data.checkpoints[("t", 0)] == 1
    assert store.data.users[("", "u0")].totals[METRIC.id] == 1.0


def test_an_event_that_would_overflow_the_total_is_rejected() -> None:
    big = [RecordMetricEvent(_id(n), "", "u", T0, "m", 1e308, {}, UserPatch()) for n in range(2)]
    result = fold(Projection(), big, CONFIG)
    assert not isinstance(result.decisions[0].outcome, CommandRejected)
    rejected = result.decisions[1].outcome
    assert isinstance(rejected, CommandRejected)
    assert "overflow" in rejected.reason
    assert result.users[("", "u")].totals[METRIC.id] == 1e308
