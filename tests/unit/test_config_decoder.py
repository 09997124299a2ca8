"""The processor's configuration decoder reuses its last answer only for the very same rows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from projections.store.config_history import ConfigDecoder, ConfigRows, decode_config

SINCE = datetime(2026, 1, 1, tzinfo=UTC)
METRIC = uuid.uuid4()


def _rows(name: str) -> ConfigRows:
    metric = ("t", METRIC, "lessons", name, "number", None, SINCE, None)
    return ((metric,), (), (), ())


def test_the_same_rows_give_the_same_configuration_without_decoding_again() -> None:
    decoder = ConfigDecoder()
    first = decoder.decode(_rows("Lessons"))
    assert decoder.decode(_rows("Lessons")) is first
    assert first == decode_config(_rows("Lessons"))


def test_changed_rows_are_decoded_afresh() -> None:
    decoder = ConfigDecoder()
    decoder.decode(_rows("Lessons"))
    renamed = decoder.decode(_rows("Lectures"))
    assert [m.name for m in renamed.metrics] == ["Lectures"]
    assert decoder.decode(_rows("Lectures")) is renamed
