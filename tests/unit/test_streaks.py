"""Streak rules: table tests at real DST transitions and zone changes, for each frequency, and
property tests over random histories."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.core import streaks
from projections.core.commands import (
    ChangeStreak,
    Command,
    RecordMetricEvent,
    Tick,
    UserPatch,
)
from projections.core.fold import BatchResult, Projection, fold
from projections.core.model import ConfigHistory, MetricVersion, StreakSettingsVersion, UserState
from projections.core.outcomes import MetricEventRecorded
from projections.core.periods import Frequency, next_period, period_start, start_of_day
from projections.core.streaks import FreezePolicy, StreakSettings
from projections.store.codecs import (
    preferences_from_json,
    preferences_json,
    settings_from_json,
    settings_json,
    streak_state,
    streak_state_json,
)

EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
METRIC = MetricVersion(EPOCH, None, "", uuid.UUID(int=1), "m", "M")


def config(frequency: Frequency = "daily", **changes: object) -> ConfigHistory:
    settings = StreakSettings(frequency=frequency, metrics=(("m", 1.0),))
    settings = replace(settings, **changes)  # type: ignore[arg-type]
    return ConfigHistory(
        metrics=(METRIC,), streak_settings=(StreakSettingsVersion(EPOCH, None, "", settings),)
    )


_ids = iter(range(10**9))


def cid() -> uuid.UUID:
    return uuid.UUID(int=next(_ids) + 1)


def local(zone: str, text: str) -> datetime:
    """A wall-clock time in ``zone`` (the first of two, where the clock goes back)."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def event(at: datetime, tz: str | None, value: float = 1.0, user: str = "u") -> RecordMetricEvent:
    patch = UserPatch(tz=tz) if tz else UserPatch()
    return RecordMetricEvent(cid(), "", user, at, "m", value, {}, patch)


def run(commands: Sequence[Command], cfg: ConfigHistory) -> tuple[Projection, list[BatchResult]]:
    """Fold one command per batch, carrying the projection (as the processor does)."""
    projection = Projection()
    results = []
    for command in commands:
        result = fold(projection, [command], cfg)
        decided = {(d.command.tenant, d.command.id) for d in result.decisions}
        projection = Projection(
            users={**projection.users, **result.users}, decided=projection.decided | decided
        )
        results.append(result)
    return projection, results


def extended(results: list[BatchResult]) -> list[tuple[int, bool]]:
    out = []
    for result in results:
        outcome = result.decisions[0].outcome
        assert isinstance(outcome, MetricEventRecorded)
        assert outcome.streak is not None
        out.append((outcome.streak.length, outcome.extended))
    return out


# ---------------------------------------------------------------------------------------------
# Table tests at real transitions


DST_DAYS = [
    # zone, a local day with a transition, the hours that day lasts
    ("America/New_York", "2026-03-08", 23),
    ("America/New_York", "2026-11-01", 25),
    ("America/Santiago", "2026-04-04", 25),  # 24:00 → 23:00: the 4th gets a second 23:xx
    ("America/Santiago", "2026-09-06", 23),  # 00:00 → 01:00: the 6th has no midnight
    ("Australia/Lord_Howe", "2026-04-05", 24.5),  # 02:00 → 01:30
    ("Australia/Lord_Howe", "2026-10-04", 23.5),  # 02:00 → 02:30
    ("Asia/Kathmandu", "2026-03-08", 24),  # +05:45 all year
]


@pytest.mark.parametrize(("zone", "day", "hours"), DST_DAYS)
def test_a_local_day_lasts_what_the_zone_says(zone: str, day: str, hours: float) -> None:
    start = date.fromisoformat(day)
    length = start_of_day(start + timedelta(days=1), zone) - start_of_day(start, zone)
    assert length == timedelta(hours=hours)
    first = start_of_day(start, zone)
    assert first.astimezone(ZoneInfo(zone)).date() == start
    assert (first - timedelta(microseconds=1)).astimezone(ZoneInfo(zone)).date() < start


@pytest.mark.parametrize(("zone", "day", "hours"), DST_DAYS)
def test_daily_streak_across_a_transition_day(zone: str, day: str, hours: float) -> None:
    d = date.fromisoformat(day)
    before, after = d - timedelta(days=1), d + timedelta(days=1)
    cfg = config("daily")
    commands: list[Command] = [
        event(local(zone, f"{before}T23:50"), zone),
        event(local(zone, f"{d}T00:00") + timedelta(minutes=70), zone),  # early on the day
        event(local(zone, f"{d}T23:59"), zone),  # same day, still no extension
        event(start_of_day(after, zone), zone),  # the first instant of the next day
    ]
    _, results = run(commands, cfg)
    assert extended(results) == [(1, True), (2, True), (2, False), (3, True)]


@pytest.mark.parametrize(("zone", "day", "hours"), DST_DAYS)
@pytest.mark.parametrize("frequency", ["daily", "weekly", "monthly"])
def test_a_missed_period_is_lost_exactly_at_local_midnight(
    zone: str, day: str, hours: float, frequency: Frequency
) -> None:
    d = date.fromisoformat(day)
    cfg = config(frequency)
    projection, _ = run([event(start_of_day(d, zone) + timedelta(hours=1), zone)], cfg)
    state = projection.users[("", "u")]
    first = period_start(d, frequency)
    rules = streaks.rules_for(cfg.streak_at("", d_at(d)), state.preferences.streak)
    # The next period is missed: the streak ends when the period after it begins.
    nxt = next_period(first, frequency)
    deadline = start_of_day(next_period(nxt, frequency), zone)
    alive = streaks.advance(state.streak, rules, zone, deadline - timedelta(microseconds=1))
    assert alive.streak.length == 1
    assert not alive.transitions
    lost = streaks.advance(state.streak, rules, zone, deadline)
    assert lost.streak.length == 0
    assert [t.kind for t in lost.transitions] == ["streak.lost"]
    assert lost.transitions[0].at == deadline
    assert streaks.next_due(state.streak, rules, zone) == deadline


def d_at(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


@pytest.mark.parametrize(
    ("frequency", "dates", "lengths"),
    [
        # New York spring forward on Sunday 2026-03-08; weeks start on Monday.
        ("weekly", ["2026-03-01", "2026-03-02", "2026-03-08", "2026-03-09"], [1, 2, 2, 3]),
        ("monthly", ["2026-02-28", "2026-03-01", "2026-03-31", "2026-04-01"], [1, 2, 2, 3]),
    ],
)
def test_weekly_and_monthly_periods_are_calendar_periods(
    frequency: Frequency, dates: list[str], lengths: list[int]
) -> None:
    zone = "America/New_York"
    commands = [event(local(zone, f"{d}T23:30"), zone) for d in dates]
    _, results = run(commands, config(frequency))
    assert [length for length, _ in extended(results)] == lengths


def test_weeks_can_start_on_sunday() -> None:
    zone = "America/New_York"
    commands = [event(local(zone, f"{d}T12:00"), zone) for d in ("2026-03-07", "2026-03-08")]
    _, monday = run(commands, config("weekly"))
    _, sunday = run(commands, config("weekly", week_start=0))
    assert [n for n, _ in extended(monday)] == [1, 1]  # both in the week from Monday 03-02
    assert [n for n, _ in extended(sunday)] == [1, 2]  # Saturday ends the week from 03-01
    assert sunday[0].decisions[0].outcome.streak.period_start == date(2026, 3, 1)  # type: ignore[union-attr]


def test_a_new_first_day_of_the_week_realigns_periods_and_keeps_the_length() -> None:
    zone = "UTC"
    monday = config("weekly")
    sunday = config("weekly", week_start=0)
    projection, _ = run([event(local(zone, "2026-03-04T12:00"), zone)], monday)  # Wednesday
    state = projection.users[("", "u")]
    rules = streaks.rules_for(sunday.streak_at("", EPOCH), state.preferences.streak)
    later = streaks.advance(state.streak, rules, zone, local(zone, "2026-03-10T12:00")).streak
    assert later.period == date(2026, 3, 8)  # the Sunday week containing Tuesday the 10th
    assert later.length == 1


@pytest.mark.parametrize("frequency", ["daily", "weekly", "monthly"])
def test_a_change_of_zone_takes_effect_from_the_next_command(frequency: Frequency) -> None:
    # Tokyo 2026-03-31 23:00 is 14:00 UTC; the user then says they live in Los Angeles.
    tokyo, la = "Asia/Tokyo", "America/Los_Angeles"
    first = event(local(tokyo, "2026-03-31T23:00"), tokyo)
    moved = event(local(tokyo, "2026-03-31T23:30"), la)  # counted in Tokyo: same day
    later = event(local(la, "2026-03-31T12:00"), la)  # now in LA: still 03-31 there
    _, results = run([first, moved, later], config(frequency))
    periods = [r.decisions[0].outcome.streak.period_start for r in results]  # type: ignore[union-attr]
    expected = period_start(date(2026, 3, 31), frequency)
    assert periods == [expected, expected, expected]
    assert [n for n, _ in extended(results)] == [1, 1, 1]
    # The next local day in Los Angeles extends a daily streak.
    nxt = event(local(la, "2026-04-01T09:00"), la)
    _, again = run([first, moved, later, nxt], config(frequency))
    assert extended(again)[-1] == ((1, False) if frequency == "weekly" else (2, True))


def test_days_off_keep_a_daily_streak_without_a_freeze() -> None:
    zone = "Asia/Kathmandu"
    cfg = config("daily", days_off=frozenset({6, 0}))  # Saturday and Sunday
    friday, monday = local(zone, "2026-03-06T10:00"), local(zone, "2026-03-09T10:00")
    _, results = run([event(friday, zone), event(monday, zone)], cfg)
    assert extended(results) == [(1, True), (2, True)]
    assert results[0].decisions[0].outcome.streak.expires == date(2026, 3, 9)  # type: ignore[union-attr]


def test_freezes_are_consumed_then_earned_and_capped() -> None:
    zone = "UTC"
    policy = FreezePolicy(start_count=1, max_count=2, auto_earn_interval_days=3, auto_earn_amount=5)
    cfg = config("daily", freezes=policy)
    day = datetime(2026, 5, 1, 12, tzinfo=UTC)
    projection, _results = run([event(day, zone)], cfg)
    state = projection.users[("", "u")]
    assert state.streak.freezes == 1
    # Two days missed: the first uses the freeze; the auto-earn at day 3 (capped at 2) comes
    # after the second miss, so the streak is lost.
    tick = Tick(cid(), "", "u", day + timedelta(days=3, hours=1))
    _, later = run([event(day, zone), tick], cfg)
    kinds = [t.kind for _, _, t in later[1].streaks.transitions]
    assert kinds == ["streak.freeze_consumed", "streak.lost", "streak.freeze_earned"]
    earned = later[1].streaks.transitions[-1][2]
    assert (earned.count, earned.freezes) == (2, 2)


def test_restore_brings_back_the_longest_run_inside_the_window() -> None:
    zone = "UTC"
    day = datetime(2026, 1, 10, 12, tzinfo=UTC)
    commands: list[Command] = [event(day + timedelta(days=n), zone) for n in range(5)]
    commands += [event(day + timedelta(days=10), zone)]  # lost after 5, new run of 1
    restore = ChangeStreak(cid(), "", "u", day + timedelta(days=10, hours=1), "restore")
    projection, _results = run([*commands, restore], config("daily"))
    streak = projection.users[("", "u")].streak
    assert (streak.length, streak.started) == (5, date(2026, 1, 10))
    too_late = ChangeStreak(cid(), "", "u", day + timedelta(days=200), "restore")
    _, refused = run([*commands, too_late], config("daily"))
    assert refused[-1].decisions[0].outcome.code == "conflict"  # type: ignore[union-attr]


def test_settings_and_preferences_survive_their_json_form() -> None:
    settings = StreakSettings(
        "weekly", "OR", True, frozenset(), (("m", 2.5),), FreezePolicy(1, 5, 7, 1), 0
    )
    assert settings_from_json(settings_json(settings)) == settings
    state = UserState("", "u")
    assert preferences_from_json(preferences_json(state.preferences)) == state.preferences


# ---------------------------------------------------------------------------------------------
# Properties over random histories

ZONES = [None, "America/New_York", "America/Santiago", "Australia/Lord_Howe", "Asia/Kathmandu"]
START = datetime(2026, 3, 1, tzinfo=UTC)

histories = st.lists(
    st.tuples(
        st.sampled_from(["event", "event", "event", "tick", "grant", "pause", "reset"]),
        st.integers(0, 60 * 24 * 40),  # minutes after START (arrival order is log order)
        st.sampled_from([1.0, 2.0, 0.5, -1.0]),
        st.sampled_from(ZONES),
    ),
    max_size=40,
)
frequencies = st.sampled_from(["daily", "weekly", "monthly"])
policies = st.sampled_from([None, FreezePolicy(1, 3), FreezePolicy(0, 2, 2, 1)])


def build(history: list[tuple[str, int, float, str | None]], user: str = "u") -> list[Command]:
    out: list[Command] = []
    for n, (kind, minutes, value, zone) in enumerate(history):
        at = START + timedelta(minutes=minutes)
        command_id = uuid.UUID(int=n + 1)
        if kind == "event" or n == 0:
            out.append(
                RecordMetricEvent(command_id, "", user, at, "m", value, {}, UserPatch(tz=zone))
            )
        elif kind == "tick":
            out.append(Tick(command_id, "", user, at))
        elif kind == "grant":
            out.append(ChangeStreak(command_id, "", user, at, "grant_freezes", count=1))
        elif kind == "pause":
            start = (at + timedelta(days=1)).date()
            out.append(
                ChangeStreak(
                    command_id,
                    "",
                    user,
                    at,
                    "add_pause",
                    pause_id=command_id,
                    start=start,
                    end=start + timedelta(days=minutes % 5),
                )
            )
        else:
            out.append(ChangeStreak(command_id, "", user, at, "reset"))
    return out


def persisted(state: UserState) -> UserState:
    """The state as it comes back from the projection table."""
    return replace(
        state,
        streak=streak_state(streak_state_json(state.streak)),
        preferences=preferences_from_json(preferences_json(state.preferences)),
    )


@settings(max_examples=200, deadline=None)
@given(histories, st.integers(0, 40), frequencies, policies)
def test_folding_at_once_equals_prefix_persist_rest(history, cut, frequency, policy) -> None:  # type: ignore[no-untyped-def]
    cfg = config(frequency, freezes=policy)
    commands = build(history)
    whole = fold(Projection(), commands, cfg)
    first = fold(Projection(), commands[:cut], cfg)
    carried = Projection(users={k: persisted(v) for k, v in first.users.items()})
    rest = fold(carried, commands[cut:], cfg)
    assert {**first.users, **rest.users} == dict(whole.users)
    assert [d.outcome for d in whole.decisions] == [
        d.outcome for d in [*first.decisions, *rest.decisions]
    ]
    assert [*first.streaks.transitions, *rest.streaks.transitions] == list(
        whole.streaks.transitions
    )


@settings(max_examples=200, deadline=None)
@given(histories, frequencies, policies, st.data())
def test_lengths_are_bounded_and_duplicates_change_nothing(  # type: ignore[no-untyped-def]
    history, frequency, policy, data
) -> None:
    cfg = config(frequency, freezes=policy)
    commands = build(history)
    projection, results = run(commands, cfg)
    extensions = sum(
        t.kind == "streak.extended" for r in results for _, _, t in r.streaks.transitions
    )
    qualifying = {  # periods in which an event met the conditions
        r.decisions[0].outcome.streak.period_start
        for r in results
        if isinstance(r.decisions[0].outcome, MetricEventRecorded)
        and r.decisions[0].outcome.extended
        and r.decisions[0].outcome.streak is not None
    }
    for state in projection.users.values():
        assert state.streak.length <= len(qualifying) <= extensions
        assert state.streak.longest >= state.streak.length
    repeats = data.draw(st.lists(st.sampled_from(commands), max_size=10)) if commands else []
    mixed = list(commands)
    for repeat in repeats:  # a record sent again lands after the first copy
        mixed.insert(data.draw(st.integers(mixed.index(repeat) + 1, len(mixed))), repeat)
    again, _ = run(mixed, cfg)
    assert again.users == projection.users
