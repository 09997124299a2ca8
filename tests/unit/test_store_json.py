"""The store's JSON leaves UUIDs, instants and dates to orjson in some columns (the users'
notices, the outbox bodies): it must write them as ``str()`` and ``isoformat()`` do, or rows
written before and after would differ (a replay compares them)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from hypothesis import given
from hypothesis import strategies as st

from projections.store.connections import dump_json

instants = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.timezones()
)


@given(instants, st.uuids(), st.dates())
def test_orjson_writes_uuids_instants_and_dates_as_str_and_isoformat(
    at: datetime, id_: uuid.UUID, day: date
) -> None:
    utc = at.astimezone(UTC)
    assert dump_json([utc, id_, day]) == dump_json([utc.isoformat(), str(id_), day.isoformat()])
