from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.contract import (
    UNSET,
    ContractError,
    RecordMetricEvent,
    UpsertUser,
    UserPatch,
    decode,
    encode,
    record_key,
)
from ingest.ids import new_command_id

NOW = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def event(**overrides: object) -> RecordMetricEvent:
    fields: dict[str, object] = dict(
        id=new_command_id(),
        tenant="acme",
        user_id="u1",
        received_at=NOW,
        metric_key="m",
        value=2.5,
        attributes={"device": "ios"},
        user=UserPatch(
            name="Ada",
            tz="Europe/London",
            device_tokens=("t1",),
            sign_up_date=date(2026, 1, 2),
            attributes={"plan": "pro"},
        ),
        idempotency_key="k",
    )
    fields.update(overrides)
    return RecordMetricEvent(**fields)  # type: ignore[arg-type]


def test_metric_event_round_trips() -> None:
    command = event()
    assert decode(record_key("acme", "u1"), encode(command)) == command


def test_user_upsert_round_trips_and_keeps_unset_fields_unset() -> None:
    command = UpsertUser(new_command_id(), "", "u2", NOW, UserPatch(email=None), "update")
    decoded = decode(record_key("", "u2"), encode(command))
    assert decoded == command
    assert isinstance(decoded, UpsertUser)
    assert decoded.user.name is UNSET
    assert decoded.user.email is None


def test_command_ids_are_time_ordered_uuid7() -> None:
    ids = [new_command_id() for _ in range(1000)]
    assert all(i.version == 7 for i in ids)
    assert len(set(ids)) == 1000
    assert [i.int >> 80 for i in ids] == sorted(i.int >> 80 for i in ids)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b.pop("id"), "id must be a UUID"),
        (lambda b: b.update(id="nope"), "id must be a UUID"),
        (lambda b: b.update(v=2), "unsupported version 2"),
        (lambda b: b.update(type="x"), "unknown command type"),
        (lambda b: b.update(value=True), "value must be a number"),
        (lambda b: b.update(value="1"), "value must be a number"),
        (lambda b: b.update(receivedAt="2026-01-01T00:00:00"), "must carry a UTC offset"),
        (lambda b: b["user"].update(tz="Mars/Olympus"), "IANA time zone"),
        (lambda b: b["user"].update(id=""), "user.id must be a non-empty string"),
        (lambda b: b.update(attributes={"a": 1}), "attributes must be an object of string"),
    ],
)
def test_bad_records_are_refused_with_the_field_named(mutate, message) -> None:  # type: ignore[no-untyped-def]
    body = orjson.loads(encode(event()))
    mutate(body)
    with pytest.raises(ContractError, match=message):
        decode(record_key("acme", "u1"), orjson.dumps(body))


def test_non_finite_values_are_refused() -> None:
    body = encode(event()).replace(b'"value":2.5', b'"value":1e999')
    with pytest.raises(ContractError):
        decode(None, body)


def test_key_must_match_tenant_and_user() -> None:
    with pytest.raises(ContractError, match="expected key"):
        decode(record_key("acme", "someone-else"), encode(event()))


def test_a_key_spelled_otherwise_is_refused_showing_both_spellings() -> None:
    command = event(tenant="", user_id="ada")
    with pytest.raises(ContractError) as refused:
        decode(b'["", "ada"]', encode(command))
    assert str(refused.value).startswith(
        """expected key b'["","ada"]', got b'["", "ada"]': the key must be"""
    )
    with pytest.raises(ContractError, match=r"""expected key b'\["","ada"\]', got no key"""):
        decode(None, encode(command))


README = Path(__file__).resolve().parents[2] / "README.md"
KEY_ROW = re.compile(r"^\| `(.*)`, `(.*)` \| `(.*)` \| `([0-9a-f ]+)` \|$", re.MULTILINE)


def test_the_readmes_key_examples_are_what_the_processor_accepts_byte_for_byte() -> None:
    rows = KEY_ROW.findall(README.read_text())
    assert len(rows) >= 2
    for tenant, user_id, shown, hex_bytes in rows:
        tenant = "" if tenant == '""' else tenant
        key = bytes.fromhex(hex_bytes)
        assert key == shown.encode() == record_key(tenant, user_id)
        assert decode(key, encode(event(tenant=tenant, user_id=user_id))).user_id == user_id


def test_control_characters_are_escaped_as_documented() -> None:
    assert record_key("", 'a"b\\c\nd\x01') == b'["","a\\"b\\\\c\\nd\\u0001"]'


@given(
    st.text(st.characters(exclude_categories=["Cs"])),
    st.text(st.characters(exclude_categories=["Cs"])),
)
def test_the_key_is_pythons_compact_json(tenant: str, user_id: str) -> None:
    """What the README tells a Python producer to write is byte for byte the key (the Node
    producer example checks JSON.stringify the same way)."""
    compact = json.dumps([tenant, user_id], separators=(",", ":"), ensure_ascii=False)
    assert record_key(tenant, user_id) == compact.encode()


def test_not_json_and_no_value() -> None:
    with pytest.raises(ContractError, match="not JSON"):
        decode(None, b"{")
    with pytest.raises(ContractError, match="no value"):
        decode(None, None)
    assert isinstance(uuid.UUID(str(new_command_id())), uuid.UUID)
