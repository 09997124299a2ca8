"""Achievements and points: worked examples of boosts, caps and levels, and property tests over
random histories (caps hold, completions happen once, a replay reproduces everything)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.core.achievements import Achievement, AchievementTrigger, AttributeFilter
from projections.core.commands import (
    Command,
    CompleteAchievement,
    RecordMetricEvent,
    Tick,
    UserPatch,
)
from projections.core.fold import BatchResult, Projection, fold
from projections.core.model import (
    AttributeVersion,
    ConfigHistory,
    MetricVersion,
    StreakSettingsVersion,
    UserState,
)
from projections.core.outcomes import CommandRejected, MetricEventRecorded
from projections.core.points import (
    PointsBoost,
    PointsLevel,
    PointsSystem,
    PointsTrigger,
    Rounding,
    TriggerType,
    boosted,
    level_for,
)
from projections.core.streaks import StreakSettings
from projections.store.codecs import (
    notices_json,
    notices_state,
    points_state,
    points_state_json,
)
from projections.store.connections import dump_json
from projections.store.trophy_json import award_bodies
from projections.store.webhook_messages import Message, Shown, batch_messages

EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
T0 = datetime(2026, 6, 1, 12, tzinfo=UTC)
LESSONS = MetricVersion(EPOCH, None, "", uuid.UUID(int=1), "lessons", "Lessons")
XP = uuid.UUID(int=100)
PLAN = uuid.UUID(int=7)


def _id(n: int) -> uuid.UUID:
    return uuid.UUID(int=1000 + n)


def achievement(n: int, trigger: AchievementTrigger, **fields: Any) -> Achievement:
    return Achievement(
        EPOCH,
        None,
        "",
        _id(n),
        f"A{n}",
        trigger,
        "active",
        EPOCH + timedelta(seconds=n),
        key=f"a{n}",
        **fields,
    )


def trigger(n: int, kind: TriggerType, points: int, **fields: Any) -> PointsTrigger:
    return PointsTrigger(
        EPOCH,
        None,
        "",
        _id(n),
        XP,
        kind,
        points,
        "active",
        EPOCH,
        EPOCH,
        **fields,
    )


def boost(n: int, multiplier: float, rounding: Rounding = "down", **fields: Any) -> PointsBoost:
    return PointsBoost(
        EPOCH,
        None,
        "",
        _id(n),
        XP,
        f"B{n}",
        date(2026, 6, 1),
        date(2026, 6, 30),
        multiplier,
        rounding,
        EPOCH,
        **fields,
    )


ACHIEVEMENTS = (
    achievement(1, "metric", metric_id=LESSONS.id, metric_value=3.0),
    achievement(2, "streak", streak_length=2),
    achievement(3, "achievement", prerequisites=(_id(1), _id(2))),
    achievement(4, "api"),
    achievement(
        5,
        "metric",
        metric_id=LESSONS.id,
        metric_value=1.0,
        event_filters=(AttributeFilter(PLAN, "source", "web"),),
    ),
)


def config(max_points: int | None = 500, boosts: tuple[PointsBoost, ...] = ()) -> ConfigHistory:
    return ConfigHistory(
        metrics=(LESSONS,),
        streak_settings=(
            StreakSettingsVersion(EPOCH, None, "", StreakSettings(metrics=(("lessons", 1.0),))),
        ),
        achievements=ACHIEVEMENTS,
        points_systems=(
            PointsSystem(EPOCH, None, "", XP, "xp", "XP", EPOCH, max_points=max_points),
        ),
        points_triggers=(
            trigger(10, "metric", 7, metric_id=LESSONS.id, metric_threshold=2.0),
            trigger(11, "achievement", 40, achievement_id=_id(3)),
            trigger(12, "streak", 15, streak_length=2),
            trigger(13, "user_creation", 3),
            trigger(14, "time", 1, time_unit="hours", time_interval=6),
            trigger(15, "metric", -2, metric_id=LESSONS.id, metric_threshold=5.0),
        ),
        points_levels=(
            PointsLevel(EPOCH, None, "", _id(20), XP, "one", "One", 10, EPOCH),
            PointsLevel(EPOCH, None, "", _id(21), XP, "two", "Two", 60, EPOCH),
        ),
        points_boosts=boosts,
    )


# ---------------------------------------------------------------------------------------------
# Worked examples


@pytest.mark.parametrize(
    ("points", "multipliers", "rounding", "expected"),
    [
        (10, [2.0, 1.5, 3.0], "down", 90),  # 2 x 1.5 x 3 = 9x
        (7, [1.5], "down", 10),  # 10.5
        (7, [1.5], "up", 11),
        (7, [1.5], "nearest", 11),
        (5, [1.25], "nearest", 6),  # 6.25
        (3, [0.5], "up", 2),  # a boost below 1 shrinks awards
        (-4, [2.0], "down", -4),  # deductions are never boosted
    ],
)
def test_boost_stacking_and_rounding(
    points: int, multipliers: list[float], rounding: Rounding, expected: int
) -> None:
    boosts = [boost(n, m, rounding) for n, m in enumerate(multipliers)]
    assert boosted(points, boosts) == expected


def test_mixed_rounding_modes_round_down() -> None:
    assert boosted(7, [boost(1, 1.5, "up"), boost(2, 1.0 + 1e-9, "nearest")]) == 10


def test_a_level_is_reached_at_its_threshold() -> None:
    levels = config().points_levels
    assert level_for(levels, 9) is None
    assert level_for(levels, 10) == levels[0]
    assert level_for(levels, 60) == levels[1]


def test_a_boosted_day_with_achievements_streak_and_a_level() -> None:
    cfg = config(boosts=(boost(30, 2.0), boost(31, 1.5, user_id="u")))
    events: list[Command] = [
        RecordMetricEvent(
            _id(100 + n), "", "u", T0 + timedelta(days=n), "lessons", 2.0, {}, UserPatch()
        )
        for n in range(2)
    ]
    result = fold(Projection(), events, cfg)
    second = result.decisions[1].outcome
    assert isinstance(second, MetricEventRecorded)
    assert [c.achievement.key for c in second.achievements] == ["a1", "a2", "a3"]
    [xp] = [c for c in second.points if c.system.key == "xp"]
    # Both boosts apply (2 x 1.5 = 3x). Day one: creation 3 and 2 lessons 7, x3 = 30. Day two:
    # four 6-hour intervals 4, 2 lessons 7, the composite 40, a streak of 2: 15, each x3.
    assert [r.award.awarded for r in xp.awards] == [12, 21, 120, 45]
    assert (xp.total, xp.added) == (228, 198)
    assert xp.level is not None
    assert xp.level.current is not None
    assert xp.level.current.key == "two"
    first = result.decisions[0].outcome
    assert isinstance(first, MetricEventRecorded)
    [first_xp] = [c for c in first.points if c.system.key == "xp"]
    assert first_xp.level is not None
    assert first_xp.level.current is not None
    assert first_xp.level.current.key == "one"


def test_event_attribute_filters_must_match_the_event() -> None:
    cfg = config()
    plain = RecordMetricEvent(_id(1), "", "u", T0, "lessons", 1.0, {}, UserPatch())
    web = RecordMetricEvent(_id(2), "", "u", T0, "lessons", 1.0, {"source": "web"}, UserPatch())
    cfg = replace(
        cfg, attributes=(AttributeVersion(EPOCH, None, "", PLAN, "source", "S", "event"),)
    )
    result = fold(Projection(), [plain, web], cfg)
    keys = [[c.achievement.key for c in d.outcome.achievements] for d in result.decisions]  # type: ignore[union-attr]
    assert keys == [[], ["a5"]]


# ---------------------------------------------------------------------------------------------
# Properties

histories = st.lists(
    st.tuples(
        st.sampled_from(["event", "event", "event", "tick", "complete"]),
        st.integers(0, 60 * 24 * 10),
        st.sampled_from([1.0, 2.0, 3.0, -1.0, 0.5]),
    ),
    min_size=1,
    max_size=40,
)


def build(history: list[tuple[str, int, float]]) -> list[Command]:
    out: list[Command] = []
    for n, (kind, minutes, value) in enumerate(history):
        at = T0 + timedelta(minutes=minutes)
        if kind == "event" or n == 0:
            out.append(
                RecordMetricEvent(_id(5000 + n), "", "u", at, "lessons", value, {}, UserPatch())
            )
        elif kind == "tick":
            out.append(Tick(_id(5000 + n), "", "u", at))
        else:
            out.append(CompleteAchievement(_id(5000 + n), "", "u", at, _id(4)))
    return out


def persisted(state: UserState) -> UserState:
    """``state`` written to its JSON columns and read back, as PostgreSQL keeps it."""
    return replace(
        state,
        points=points_state(stored(points_state_json(state.points))),
        notices=notices_state(stored(notices_json(state.notices))),
    )


def stored(value: dict[str, Any]) -> Any:
    return orjson.loads(dump_json(value))


def folded_whole_and_split(
    commands: list[Command], cut: int, cfg: ConfigHistory
) -> tuple[BatchResult, BatchResult, BatchResult]:
    """``commands`` folded in one batch, and in two split at ``cut`` with the state carried
    through its stored form (as a replay with other batch boundaries would)."""
    whole = fold(Projection(), commands, cfg)
    first = fold(Projection(), commands[:cut], cfg)
    carried = Projection(
        users={k: persisted(v) for k, v in first.users.items()},
        decided=frozenset((d.command.tenant, d.command.id) for d in first.decisions),
    )
    return whole, first, fold(carried, commands[cut:], cfg)


@settings(max_examples=150, deadline=None)
@given(histories, st.integers(0, 40), st.sampled_from([None, 50, 500]))
def test_caps_hold_completions_happen_once_and_a_replay_reproduces_everything(  # type: ignore[no-untyped-def]
    history, cut, max_points
) -> None:
    cfg = config(max_points, boosts=(boost(30, 2.5, "up"),))
    commands = build(history)
    whole, first, rest = folded_whole_and_split(commands, cut, cfg)
    assert {**first.users, **rest.users} == dict(whole.users)
    assert [d.outcome for d in [*first.decisions, *rest.decisions]] == [
        d.outcome for d in whole.decisions
    ]
    assert [*first.rewards.awards, *rest.rewards.awards] == list(whole.rewards.awards)

    completed = [c.achievement.id for _, _, c in whole.rewards.completions]
    assert len(completed) == len(set(completed))
    for _, _, record in whole.rewards.awards:
        assert record.award.total >= 0
        if max_points is not None:
            assert record.award.total <= max_points
    for state in whole.users.values():
        for total in state.points.totals.values():
            assert 0 <= total <= (max_points if max_points is not None else total)
    assert not [d for d in whole.decisions if isinstance(d.outcome, CommandRejected)]


def test_anniversaries_complete_on_the_local_day_and_are_not_rescheduled_when_filtered() -> None:
    one_year = achievement(40, "anniversary", anniversary_years=1)
    for_pros = achievement(
        41, "anniversary", anniversary_years=1, user_filters=(AttributeFilter(PLAN, "plan", "pro"),)
    )
    cfg = replace(config(), achievements=(one_year, for_pros), points_triggers=())
    signed = UserPatch(tz="Asia/Kathmandu", sign_up_date=date(2025, 6, 2))
    created = RecordMetricEvent(_id(1), "", "u", T0, "lessons", 1.0, {}, signed)
    first = fold(Projection(), [created], cfg)
    due = first.streaks.due[("", "u")]
    assert due == datetime(2026, 6, 1, 18, 15, tzinfo=UTC)  # 2026-06-02 00:00 in Kathmandu
    state = first.users[("", "u")]
    ticked = fold(Projection(users=first.users), [Tick(_id(2), "", "u", due)], cfg)
    done = [c.achievement.key for _, _, c in ticked.rewards.completions]
    assert done == ["a40"]
    assert state.achievements == {}
    after = ticked.streaks.due[("", "u")]
    assert after is None or after > due  # the filtered anniversary is not sent again


@settings(max_examples=60, deadline=None)
@given(histories, st.integers(0, 40))
def test_webhook_messages_and_their_ids_do_not_depend_on_batch_boundaries(  # type: ignore[no-untyped-def]
    history, cut
) -> None:
    cfg = config(boosts=(boost(30, 2.5, "up"),))
    commands = build(history)
    whole, first, rest = folded_whole_and_split(commands, cut, cfg)

    def everything(tenant: str, kind: str) -> bool:
        return True

    def shown(messages: list[Message]) -> list[tuple[str, str, dict[str, Any]]]:
        return [(m.id, m.type, {k: v for k, v in m.body.items() if k != "user"}) for m in messages]

    # a points window closing in the second batch lists awards given in the first
    awards = Shown({}, award_bodies([*first.rewards.awards, *rest.rewards.awards], cfg))
    split = [
        *batch_messages(first, cfg, everything, awards),
        *batch_messages(rest, cfg, everything, awards),
    ]
    assert shown(split) == shown(batch_messages(whole, cfg, everything))
    assert len({m.id for m in split}) == len(split)
    assert batch_messages(whole, cfg, lambda tenant, kind: kind != "points.changed") == [
        m for m in batch_messages(whole, cfg, everything) if m.type != "points.changed"
    ]


def test_points_changed_is_sent_at_most_every_fifteen_minutes_carrying_what_accumulated() -> None:
    cfg = replace(
        config(),
        points_triggers=(trigger(10, "metric", 7, metric_id=LESSONS.id, metric_threshold=1.0),),
    )
    events: list[Command] = [
        RecordMetricEvent(
            _id(n), "", "u", T0 + timedelta(minutes=m), "lessons", 1.0, {}, UserPatch()
        )
        for n, m in enumerate([0, 5, 10])
    ]
    opened = fold(Projection(), events, cfg)
    due = opened.streaks.due[("", "u")]
    assert due == T0 + timedelta(minutes=15)  # the window's close
    closed = fold(Projection(users=opened.users), [Tick(_id(9), "", "u", due)], cfg)
    shown = Shown({}, award_bodies([*opened.rewards.awards, *closed.rewards.awards], cfg))

    def changed(result: BatchResult) -> list[dict[str, Any]]:
        messages = batch_messages(result, cfg, lambda tenant, kind: True, shown)
        return [m.body["points"] for m in messages if m.type == "points.changed"]

    (first,) = changed(opened)  # the first change at once; the two after it wait
    assert (first["added"], first["total"], len(first["awards"])) == (7, 7, 1)
    (carried,) = changed(closed)
    assert (carried["added"], carried["total"]) == (14, 21)
    later = [str(r.award.id) for _, _, r in opened.rewards.awards][1:]
    assert [a["id"] for a in carried["awards"]] == later
    # the window reopened at its close with nothing waiting: the next change waits for 15:30
    again = RecordMetricEvent(
        _id(20), "", "u", due + timedelta(minutes=1), "lessons", 1.0, {}, UserPatch()
    )
    waiting = fold(Projection(users=closed.users), [again], cfg)
    assert changed(waiting) == []
    assert waiting.streaks.due[("", "u")] == due + timedelta(minutes=15)
