"""The processor's configuration cache: a tenant's history is reused while its epoch stays the
same and the batch reaches back no further than what is held."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from projections.store.config_history import ConfigCache, ConfigRows, decode_config

SINCE = datetime(2026, 1, 1, tzinfo=UTC)


def _rows(*metrics: tuple[str, str]) -> ConfigRows:
    """Rows of the four configuration queries holding one metric per (tenant, name)."""
    rows = tuple(
        (
            tenant,
            uuid.uuid5(uuid.NAMESPACE_URL, tenant),
            "lessons",
            name,
            "number",
            None,
            SINCE,
            None,
        )
        for tenant, name in metrics
    )
    return (rows, (), (), ())


def test_a_tenant_at_the_same_epoch_is_not_read_again() -> None:
    cache = ConfigCache()
    assert cache.wanted({"t": 3}, ["t"], SINCE) == ["t"]
    cache.keep({"t": 3}, SINCE, ["t"], _rows(("t", "Lessons")))
    first = cache.history(["t"])
    assert first == decode_config(_rows(("t", "Lessons")))

    assert cache.wanted({"t": 3}, ["t"], SINCE + timedelta(hours=1)) == []
    assert cache.history(["t"]) is first


def test_a_moved_epoch_or_an_earlier_batch_reads_the_tenant_again() -> None:
    cache = ConfigCache()
    cache.keep({"t": 3}, SINCE, ["t"], _rows(("t", "Lessons")))

    assert cache.wanted({"t": 4}, ["t"], SINCE) == ["t"]
    assert cache.wanted({}, ["t"], SINCE) == ["t"]  # no epoch row: epoch 0
    assert cache.wanted({"t": 3}, ["t"], SINCE - timedelta(seconds=1)) == ["t"]

    cache.keep({"t": 4}, SINCE, ["t"], _rows(("t", "Lectures")))
    assert [m.name for m in cache.history(["t"]).metrics] == ["Lectures"]


def test_tenants_are_held_apart_and_served_together() -> None:
    cache = ConfigCache()
    cache.keep({"a": 1, "b": 2}, SINCE, ["a", "b"], _rows(("a", "Alpha"), ("b", "Beta")))
    assert [m.name for m in cache.history(["a"]).metrics] == ["Alpha"]
    assert [(m.tenant, m.name) for m in cache.history(["b", "a"]).metrics] == [
        ("a", "Alpha"),
        ("b", "Beta"),
    ]
    # Only the tenant whose epoch moved is read again.
    assert cache.wanted({"a": 1, "b": 5}, ["a", "b"], SINCE) == ["b"]


def test_the_least_recently_used_tenant_is_dropped_beyond_the_bound() -> None:
    cache = ConfigCache(max_tenants=2)
    cache.keep({}, SINCE, ["a"], _rows(("a", "Alpha")))
    cache.keep({}, SINCE, ["b"], _rows(("b", "Beta")))
    assert cache.wanted({}, ["a"], SINCE) == []  # a is now the most recently used
    cache.keep({}, SINCE, ["c"], _rows(("c", "Gamma")))
    assert cache.wanted({}, ["a", "b", "c"], SINCE) == ["b"]
