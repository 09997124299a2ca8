"""The configuration's indexes of rules by what fires them, and its memoised renderings.

An event looks only at the achievements and points triggers it can fire (those of its metric,
streak ones when it extended the streak, ...). These tests hold each index to a scan of every
rule with the condition the rules applied before the indexes existed.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from types import MappingProxyType
from typing import get_args

from hypothesis import given
from hypothesis import strategies as st

from projections.core.achievements import Achievement, AchievementTrigger
from projections.core.model import AchievementRules, ConfigHistory, MetricVersion, PointsConfig
from projections.core.points import PointsTrigger, TriggerType
from projections.core.rewards import Happened, candidates
from projections.store.trophy_json import Names, trigger_json

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
METRICS = tuple(uuid.UUID(int=n) for n in range(1, 4))
SYSTEM = uuid.UUID(int=100)

metric_ids = st.one_of(st.none(), st.sampled_from(METRICS))


@st.composite
def achievements(draw: st.DrawFn) -> tuple[Achievement, ...]:
    kinds = draw(st.lists(st.sampled_from(get_args(AchievementTrigger)), max_size=12))
    return tuple(
        Achievement(
            EPOCH,
            None,
            "",
            uuid.UUID(int=1000 + n),
            f"A{n}",
            kind,
            draw(st.sampled_from(("active", "inactive"))),
            EPOCH,
            metric_id=draw(metric_ids),
        )
        for n, kind in enumerate(kinds)
    )


@st.composite
def triggers(draw: st.DrawFn) -> tuple[PointsTrigger, ...]:
    kinds = draw(st.lists(st.sampled_from(get_args(TriggerType)), max_size=12))
    return tuple(
        PointsTrigger(
            EPOCH,
            None,
            "",
            uuid.UUID(int=2000 + n),
            SYSTEM,
            kind,
            10,
            "active",
            EPOCH,
            EPOCH,
            metric_id=draw(metric_ids),
        )
        for n, kind in enumerate(kinds)
    )


def considered(achievement: Achievement, happened: Happened) -> bool:
    """The rules' scan before the index: composites always, then what the command did."""
    if achievement.trigger == "achievement":
        return True
    if happened.backdate is not None:
        return achievement.id == happened.backdate
    if achievement.trigger == "metric":
        return achievement.metric_id is not None and achievement.metric_id == happened.metric_id
    if achievement.trigger == "streak":
        return bool(happened.streak_lengths)
    return achievement.trigger == "anniversary"


@given(
    achievements(),
    metric_ids,
    st.sampled_from(((), (3,))),
    st.one_of(st.none(), st.integers(1000, 1012).map(lambda n: uuid.UUID(int=n))),
)
def test_an_event_looks_at_the_achievements_a_scan_would(
    live: tuple[Achievement, ...],
    metric_id: uuid.UUID | None,
    lengths: tuple[int, ...],
    backdate: uuid.UUID | None,
) -> None:
    happened = Happened(metric_id=metric_id, streak_lengths=lengths, backdate=backdate)
    found = candidates(AchievementRules(live), happened)
    assert len(found) == len(set(found))  # each once
    assert set(found) == {a for a in live if considered(a, happened)}


@given(triggers())
def test_the_triggers_are_indexed_by_what_fires_them_in_their_order(
    all_triggers: tuple[PointsTrigger, ...],
) -> None:
    pc = PointsConfig(MappingProxyType({}), all_triggers, (), ())
    for metric_id in METRICS:
        expected = tuple(t for t in all_triggers if t.type == "metric" and t.metric_id == metric_id)
        assert pc.by_metric.get(metric_id, ()) == expected
    assert pc.timed == tuple(t for t in all_triggers if t.type == "time")
    kinds = ("achievement", "streak", "user_creation")
    assert pc.on_events == tuple(t for t in all_triggers if t.type in kinds)


def test_a_rendering_is_made_once_per_version_and_names_and_handed_out_as_a_copy() -> None:
    lessons = MetricVersion(EPOCH, None, "", METRICS[0], "lessons", "Lessons")
    trigger = PointsTrigger(
        EPOCH, None, "", uuid.UUID(int=2000), SYSTEM, "metric", 10, "active", EPOCH, EPOCH,
        metric_id=METRICS[0], metric_threshold=1,
    )  # fmt: skip
    config = ConfigHistory(metrics=(lessons,))
    names = Names(config, "", EPOCH)
    first = names.trigger(trigger)
    assert first == trigger_json(trigger, "Lessons", None)
    first["points"] = -1  # the caller's copy
    assert names.trigger(trigger) == trigger_json(trigger, "Lessons", None)
    renders: list[object] = []

    def render(version: object) -> dict[str, object]:
        renders.append(version)
        return {}

    for _ in range(3):
        config.rendering(trigger, "v", lambda: render(trigger))
    assert renders == [trigger]
    config.rendering(trigger, "w", lambda: render(trigger))  # another variant: names changed
    # An equal but distinct version (a reloaded configuration's) is rendered for itself.
    twin = PointsTrigger(**{f: getattr(trigger, f) for f in trigger.__dataclass_fields__})
    config.rendering(twin, "v", lambda: render(twin))
    assert len(renders) == 3
    assert renders[2] is twin
