"""Streaks through Trophy's official SDK, with the api's and the scheduler's time moved by a
clock file: consecutive local days extend, a missed day consumes a freeze through the scheduler,
a second miss loses the streak, a restore brings it back; then the projection is compared with
a reference fold of the topic."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from trophy import (
    CreateMetricRequestItem,
    NotificationPreferences,
    StreakMetricPreference,
    StreakPreferences,
    StreakSettingsMetric,
    UpdateStreakSettingsFreezes,
    UpsertedUser,
)
from trophy.admin.streaks import (
    CreateStreakFreezesRequestFreezesItem,
    CreateStreakPausesRequestPausesItem,
    ResetStreaksRequestUsersItem,
    RestoreStreaksRequestUsersItem,
)
from trophy.client import TrophyApi
from trophy.core.api_error import ApiError

from tests.e2e.test_trophy_sdk import sdk
from tests.support.clock import ClockFile
from tests.support.processes import LaurelProcesses
from tests.support.reference import (
    active_query,
    fold_of_applied_topic,
    projected_states,
    reference_states,
    tick_outbox,
)
from tests.support.waiting import wait_for_change

pytestmark = pytest.mark.e2e

USER = "streaker"
ZONE = "America/New_York"
DAY_ONE = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # Monday 10:00 in New York


@pytest.fixture(scope="module")
def client(laurel: LaurelProcesses) -> TrophyApi:
    api = sdk(laurel, laurel.admin_key)
    api.admin.metrics.create(request=[CreateMetricRequestItem(name="Lessons", key="lessons")])
    settings = api.admin.streaks.settings.update(
        frequency="daily",
        metrics=[StreakSettingsMetric(key="lessons", threshold=1)],
        freezes=UpdateStreakSettingsFreezes(start_count=1, max_count=3),
    )
    assert settings.frequency == "daily"
    assert settings.freezes is not None
    assert settings.freezes.start_count == 1
    return api


def lesson(client: TrophyApi, user: str = USER) -> Any:
    return client.metrics.event(key="lessons", user=UpsertedUser(id=user, tz=ZONE), value=1)


def tick_outcomes(laurel: LaurelProcesses, kind: str) -> list[tuple[Any, ...]]:
    """(user, body) of the outbox rows of ``kind`` that scheduler ticks wrote."""
    return [(u, body) for u, k, body in tick_outbox(laurel.ns.database_url) if k == kind]


def test_days_extend_misses_use_freezes_then_lose_and_restore_brings_back(
    client: TrophyApi, clock: ClockFile, laurel: LaurelProcesses
) -> None:
    first = lesson(client)
    assert first.current_streak.length == 1
    assert first.current_streak.extended is True
    assert first.current_streak.started == "2026-03-02"
    assert first.current_streak.period_start == first.current_streak.period_end == "2026-03-02"
    assert first.current_streak.expires == "2026-03-03"  # met today: tomorrow keeps it
    assert first.current_streak.freezes == 1
    assert first.current_streak.max_freezes == 3
    again = lesson(client)
    assert (again.current_streak.length, again.current_streak.extended) == (1, False)

    clock.set(DAY_ONE + timedelta(days=1))
    second = lesson(client)
    assert (second.current_streak.length, second.current_streak.extended) == (2, True)

    # Tuesday 10:00 → Thursday 10:00: Wednesday passes with no lesson.
    clock.set(DAY_ONE + timedelta(days=3))
    consumed = wait_for_change(
        laurel.ns.database_url,
        lambda: tick_outcomes(laurel, "streak.freeze_consumed"),
        what="the scheduler to consume a freeze",
    )
    assert consumed == [(USER, {"consumed": 1, "freezes": 0})]
    streak = client.users.streak(id=USER, history_periods=4)
    assert (streak.length, streak.freezes) == (2, 0)
    history = [(h.period_start, h.length, h.used_freeze) for h in streak.streak_history]
    assert history == [
        ("2026-03-02", 1, False),
        ("2026-03-03", 2, False),
        ("2026-03-04", 2, True),
        ("2026-03-05", 2, False),
    ]

    # Thursday passes too, with no freeze left: lost at Friday's midnight in New York.
    clock.set(DAY_ONE + timedelta(days=4))
    lost = wait_for_change(
        laurel.ns.database_url,
        lambda: tick_outcomes(laurel, "streak.lost"),
        what="the scheduler to lose the streak",
    )
    assert lost == [(USER, {"length": 2})]
    assert client.users.streak(id=USER).length == 0
    assert client.streaks.list(user_ids=[USER])[0].streak_length == 0

    restored = client.admin.streaks.restore(users=[RestoreStreaksRequestUsersItem(id=USER)])
    assert restored.restored_users == [USER]
    back = client.users.streak(id=USER)
    assert (back.length, back.started) == (2, "2026-03-02")
    nothing = client.admin.streaks.restore(users=[RestoreStreaksRequestUsersItem(id=USER)])
    assert nothing.restored_users == []
    assert "restore window" in nothing.issues[0].message

    third = lesson(client)
    assert (third.current_streak.length, third.current_streak.extended) == (3, True)


def test_freezes_pauses_reset_and_preferences(
    client: TrophyApi, clock: ClockFile, laurel: LaurelProcesses
) -> None:
    now = DAY_ONE + timedelta(days=10)
    clock.set(now)
    lesson(client, "pia")
    granted = client.admin.streaks.freezes.create(
        freezes=[
            CreateStreakFreezesRequestFreezesItem(user_id="pia"),
            CreateStreakFreezesRequestFreezesItem(user_id="pia"),
            CreateStreakFreezesRequestFreezesItem(user_id="nobody"),
        ]
    )
    assert [i.user_id for i in granted.issues] == ["nobody"]
    assert client.users.streak(id="pia").freezes == 3  # 1 initial + 2, the maximum

    today = date(2026, 3, 12)
    pauses = client.admin.streaks.pauses.create(
        pauses=[
            CreateStreakPausesRequestPausesItem(
                user_id="pia", start=str(today + timedelta(days=1)), end=str(today + timedelta(5))
            ),
            CreateStreakPausesRequestPausesItem(
                user_id="pia", start=str(today - timedelta(days=1)), end=str(today)
            ),
        ]
    )
    assert [p.status for p in pauses.created] == ["active"]
    assert pauses.issues[0].index == 1
    assert "past" in pauses.issues[0].message
    pause = pauses.created[0]
    assert [p.id for p in client.users.streak(id="pia").pauses] == [pause.id]

    # Three days with no lessons inside the pause: kept without spending freezes.
    clock.set(now + timedelta(days=4))
    paused = client.users.streak(id="pia", history_periods=4)
    assert (paused.length, paused.freezes) == (1, 3)
    assert [h.used_pause for h in paused.streak_history] == [True, True, True, False]

    assert client.admin.streaks.pauses.delete(ids=[pause.id]).deleted[0].id == pause.id
    assert client.users.streak(id="pia").pauses == []

    reset = client.admin.streaks.reset(users=[ResetStreaksRequestUsersItem(id="pia")])
    assert reset.reset_users == ["pia"]
    assert client.users.streak(id="pia").length == 0

    preferences = client.users.update_preferences(
        id="pia", notifications=NotificationPreferences(recap=["email"])
    )
    assert preferences.notifications.recap == ["email"]
    with pytest.raises(ApiError) as forbidden:
        client.users.update_preferences(
            id="pia",
            streak=StreakPreferences(metrics=[StreakMetricPreference(key="x", threshold=1)]),
        )
    assert forbidden.value.status_code == 403
    off = client.users.update_preferences(id="pia", streak=StreakPreferences(enabled=False))
    assert off.streak is not None
    assert off.streak.enabled is False
    assert lesson(client, "pia").current_streak.length == 0
    assert client.users.get_preferences(id="pia").notifications.recap == ["email"]


def test_the_projection_equals_a_reference_fold_of_the_topic(
    client: TrophyApi, clock: ClockFile, laurel: LaurelProcesses
) -> None:
    ns = laurel.ns
    now = clock.now()
    wait_for_change(
        ns.database_url,
        lambda: (
            not active_query(ns.database_url, f"SELECT 1 FROM streaks WHERE next_due <= '{now}'")
        ),
        what="the scheduler to deliver every tick due",
    )
    reference = fold_of_applied_topic(ns)
    expected = reference_states(reference, "streaks")
    assert projected_states(ns.database_url, "streaks") == expected
    assert set(expected) >= {USER, "pia"}
