"""ConfigHistory's memoised lookups answer what a scan of every version answers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from projections.core.model import (
    AttributeVersion,
    ConfigHistory,
    MetricVersion,
    StreakSettingsVersion,
)
from projections.core.streaks import StreakSettings

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
TENANTS = ("", "other")
KEYS = ("lessons", "minutes")


def instant(minutes: int) -> datetime:
    return EPOCH + timedelta(minutes=minutes)


spans = st.tuples(st.integers(0, 60), st.one_of(st.none(), st.integers(1, 30)))
"""A version's start (minutes after EPOCH) and length (None: still in force)."""


@st.composite
def histories(draw: st.DrawFn) -> ConfigHistory:
    metrics = []
    for start, length in draw(st.lists(spans, max_size=8)):
        metrics.append(
            MetricVersion(
                instant(start),
                instant(start + length) if length is not None else None,
                draw(st.sampled_from(TENANTS)),
                uuid.uuid4(),
                draw(st.sampled_from(KEYS)),
                f"v{start}",
            )
        )
    attributes = [
        AttributeVersion(
            instant(start),
            instant(start + length) if length is not None else None,
            draw(st.sampled_from(TENANTS)),
            uuid.uuid4(),
            f"a{start}",
            "attr",
            draw(st.sampled_from(("user", "event"))),
        )
        for start, length in draw(st.lists(spans, max_size=6))
    ]
    settings = [
        StreakSettingsVersion(
            instant(start),
            instant(start + length) if length is not None else None,
            draw(st.sampled_from(TENANTS)),
            StreakSettings(metrics=((f"m{start}", 1.0),)),
        )
        for start, length in draw(st.lists(spans, max_size=4))
    ]
    return ConfigHistory(
        metrics=tuple(metrics), attributes=tuple(attributes), streak_settings=tuple(settings)
    )


@given(histories(), st.lists(st.integers(-5, 100), min_size=1, max_size=30))
def test_memoised_lookups_answer_what_a_scan_answers(
    history: ConfigHistory, minutes: list[int]
) -> None:
    for m in minutes:  # repeated and out-of-order instants hit the memo
        at = instant(m)
        for tenant in TENANTS:
            for key in KEYS:
                expected = next(
                    (
                        v
                        for v in history.metrics
                        if v.tenant == tenant and v.key == key and v.holds_at(at)
                    ),
                    None,
                )
                assert history.metric_at(tenant, key, at) == expected
            for metric in history.metrics:
                by_id = next(
                    (
                        v
                        for v in history.metrics
                        if v.tenant == tenant and v.id == metric.id and v.holds_at(at)
                    ),
                    None,
                )
                assert history.metric_by_id_at(tenant, metric.id, at) == by_id
            for kind in ("user", "event"):
                keys = {
                    a.key
                    for a in history.attributes
                    if a.tenant == tenant and a.type == kind and a.holds_at(at)
                }
                assert history.attribute_keys_at(tenant, kind, at) == keys
            settings = next(
                (
                    v.settings
                    for v in history.streak_settings
                    if v.tenant == tenant and v.holds_at(at)
                ),
                StreakSettings(),
            )
            assert history.streak_at(tenant, at) == settings


def test_a_version_ending_is_seen_at_its_end_not_before() -> None:
    metric = MetricVersion(instant(0), instant(10), "", uuid.uuid4(), "lessons", "Lessons")
    history = ConfigHistory(metrics=(metric,))
    assert history.metric_at("", "lessons", instant(5)) is metric
    assert history.metric_at("", "lessons", instant(10) - timedelta(microseconds=1)) is metric
    assert history.metric_at("", "lessons", instant(10)) is None
    assert history.metric_at("", "lessons", instant(-1)) is None
    assert history.metric_at("", "lessons", instant(0)) is metric


def test_the_memo_is_not_part_of_the_value() -> None:
    metric = MetricVersion(instant(0), None, "", uuid.uuid4(), "lessons", "Lessons")
    used, fresh = ConfigHistory(metrics=(metric,)), ConfigHistory(metrics=(metric,))
    used.metric_at("", "lessons", instant(1))
    assert used == fresh
    assert hash(used) == hash(fresh)
    assert "_answers" not in repr(used)


def test_metric_keys_a_request_names_do_not_grow_the_memo() -> None:
    metric = MetricVersion(instant(0), None, "", uuid.uuid4(), "lessons", "Lessons")
    history = ConfigHistory(metrics=(metric,))
    for n in range(1_000):  # a client asking for metrics that do not exist
        assert history.metric_at("", f"missing-{n}", instant(1)) is None
    assert history.metric_at("", "lessons", instant(1)) is metric
    assert len(history._answers) == 1  # one index of the tenant's metrics for the span
