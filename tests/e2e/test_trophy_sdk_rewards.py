"""Achievements and points through Trophy's official SDK: a metric achievement, a streak
achievement, a composite, an API completion, points under a boost and a level change, each
response checked against the contract; then blocking, backdating and the reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from trophy import (
    CreateAchievementRequestItem,
    CreateMetricRequestItem,
    CreatePointsBoostRequestItem,
    CreatePointsLevelRequestItem,
    CreatePointsSystemRequestItem,
    CreatePointsTriggerRequestItem,
    PatchPointsBoostsRequestItem,
    PatchPointsTriggersRequestItem,
    StreakSettingsMetric,
    UpdateAchievementRequestItem,
    UpdatePointsSystemRequestItem,
    UpsertedUser,
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

USER = "ada"
DAY_ONE = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def setup(laurel: LaurelProcesses) -> dict[str, Any]:
    api = sdk(laurel, laurel.admin_key)
    metrics = api.admin.metrics.create(
        request=[
            CreateMetricRequestItem(name="Lessons", key="lessons"),
            CreateMetricRequestItem(name="Actions", key="actions"),
        ]
    ).created
    lessons, actions = metrics[0].id, metrics[1].id
    api.admin.streaks.settings.update(metrics=[StreakSettingsMetric(key="lessons", threshold=1)])
    made = api.admin.achievements.create(
        request=[
            CreateAchievementRequestItem(
                name="Two lessons",
                key="two-lessons",
                trigger="metric",
                status="active",
                metric_id=lessons,
                metric_value=2,
            ),
            CreateAchievementRequestItem(
                name="Two days", key="two-days", trigger="streak", status="active", streak_length=2
            ),
            CreateAchievementRequestItem(
                name="Survey", key="survey", trigger="api", status="active"
            ),
        ]
    )
    assert not made.issues
    two_lessons, two_days, survey = (a.id for a in made.created)
    composite = api.admin.achievements.create(
        request=[
            CreateAchievementRequestItem(
                name="All-rounder",
                key="all-rounder",
                trigger="achievement",
                status="active",
                achievement_ids=[two_lessons, two_days],
            )
        ]
    ).created[0]
    xp = api.admin.points.systems.create(
        request=[
            CreatePointsSystemRequestItem(
                name="XP",
                key="xp",
                max_points=1000,
                triggers=[
                    CreatePointsTriggerRequestItem(
                        type="metric",
                        points=10,
                        status="active",
                        metric_id=lessons,
                        metric_threshold=1,
                    ),
                    CreatePointsTriggerRequestItem(
                        type="achievement", points=50, status="active", achievement_id=composite.id
                    ),
                    CreatePointsTriggerRequestItem(type="user_creation", points=5, status="active"),
                ],
                levels=[
                    CreatePointsLevelRequestItem(name="Bronze", key="bronze", points=20),
                    CreatePointsLevelRequestItem(name="Silver", key="silver", points=100),
                ],
                boosts=[
                    CreatePointsBoostRequestItem(
                        name="Double Tuesday", start="2026-06-02", end="2026-06-02", multiplier=2
                    )
                ],
            ),
            CreatePointsSystemRequestItem(
                name="Energy",
                key="energy",
                triggers=[
                    CreatePointsTriggerRequestItem(
                        type="metric",
                        points=-5,
                        status="active",
                        metric_id=actions,
                        metric_threshold=1,
                        block_if_out_of_points=True,
                    ),
                    CreatePointsTriggerRequestItem(type="user_creation", points=5, status="active"),
                ],
            ),
        ]
    )
    assert not xp.issues, xp.issues
    assert [len(s.triggers or []) for s in xp.created] == [3, 2]
    return {
        "api": api,
        "two_lessons": two_lessons,
        "two_days": two_days,
        "survey": survey,
        "composite": composite.id,
        "lessons": lessons,
    }


def lesson(api: TrophyApi) -> Any:
    return api.metrics.event(key="lessons", user=UpsertedUser(id=USER, tz="UTC"), value=1)


def test_a_scenario_through_every_kind_of_reward(setup: dict[str, Any], clock: ClockFile) -> None:
    api: TrophyApi = setup["api"]
    first = lesson(api)
    assert first.achievements == []
    xp = first.points["xp"]
    assert (xp.key, xp.name, xp.max_points, xp.total, xp.added) == ("xp", "XP", 1000, 15, 15)
    assert sorted(a.awarded for a in xp.awards) == [5, 10]
    assert {a.trigger.type for a in xp.awards} == {"metric", "user_creation"}
    assert xp.level is None  # 15 is below the first level: no change, no field

    clock.set(DAY_ONE + timedelta(days=1))  # Tuesday: the 2x boost
    second = lesson(api)
    assert second.current_streak.length == 2
    done = {a.key: a for a in second.achievements}
    assert set(done) == {"two-lessons", "two-days", "all-rounder"}
    assert second.achievements[-1].key == "all-rounder"  # composites complete last
    assert all(a.achieved_at is not None for a in second.achievements)
    assert done["two-lessons"].metric_value == 2
    assert done["two-lessons"].metric_name == "Lessons"
    assert done["two-days"].streak_length == 2
    assert done["all-rounder"].achievement_ids == [setup["two_lessons"], setup["two_days"]]
    boosted = second.points["xp"]
    assert (boosted.added, boosted.total) == (120, 135)  # (10 + 50) x 2
    assert all(len(a.boosts) == 1 and a.boosts[0].multiplier == 2 for a in boosted.awards)
    assert boosted.level is not None
    assert boosted.level.key == "silver"

    clock.set(DAY_ONE + timedelta(days=2))
    third = lesson(api)
    assert third.achievements == []
    assert third.points["xp"].total == 145
    assert third.points["xp"].level is None  # unchanged: left out

    completed = api.achievements.complete(key="survey", user=UpsertedUser(id=USER))
    assert completed.achievement.key == "survey"
    assert completed.achievement.achieved_at is not None
    assert completed.points == {}
    again = api.achievements.complete(key="survey", user=UpsertedUser(id=USER))
    assert again.completion_id == completed.completion_id
    with pytest.raises(ApiError) as not_api:
        api.achievements.complete(key="two-days", user=UpsertedUser(id=USER))
    assert not_api.value.status_code == 422

    mine = api.users.achievements(id=USER)
    assert {a.key for a in mine} == {"two-lessons", "two-days", "all-rounder", "survey"}
    everyone = {a.key: a for a in api.achievements.all_()}
    assert everyone["survey"].completions == 1
    assert everyone["survey"].rarity == 100.0
    metrics = {m.key: m for m in api.users.all_metrics(id=USER)}
    assert [a.key for a in metrics["lessons"].achievements] == ["two-lessons"]
    assert metrics["lessons"].achievements[0].achieved_at is not None

    points = api.users.points(id=USER, key="xp", awards=3)
    assert (points.total, points.level.key if points.level else None) == (145, "silver")
    assert len(points.awards) == 3
    assert points.awards[0].total == 145
    system = api.points.system(key="xp")
    assert {t.type for t in system.triggers} == {"metric", "achievement", "user_creation"}
    summary = api.points.summary(key="xp")
    assert len(summary) == 11
    assert sum(r.users for r in summary) == 1
    assert [(r.from_, r.to) for r in summary[:2]] == [(0, 0), (1, 100)]
    levels = api.points.level_summary(key="xp")
    assert [(lv.level.key, lv.users) for lv in levels] == [("bronze", 0), ("silver", 1)]
    assert [lv.key for lv in api.points.levels(key="xp")] == ["bronze", "silver"]
    history = api.users.points_event_summary(
        id=USER, key="xp", aggregation="daily", start_date="2026-06-01", end_date="2026-06-03"
    )
    assert [(h.total, h.change) for h in history] == [(15, 15), (135, 120), (145, 10)]
    assert api.points.boosts(key="xp") == []  # finished by now
    assert len(api.points.boosts(key="xp", include_finished=True)) == 1


def test_a_blocking_trigger_refuses_the_event_and_changes_nothing(setup: dict[str, Any]) -> None:
    api: TrophyApi = setup["api"]
    user = UpsertedUser(id="bea")
    first = api.metrics.event(key="actions", user=user, value=1)
    assert first.points["energy"].total == 0  # 5 at creation, -5 for the action
    with pytest.raises(ApiError) as blocked:
        api.metrics.event(key="actions", user=user, value=1)
    assert blocked.value.status_code == 422
    assert "energy" in blocked.value.body["error"]
    assert api.users.single_metric(id="bea", key="actions").current == 1


def test_activating_an_achievement_backdates_it_silently(
    setup: dict[str, Any], laurel: LaurelProcesses
) -> None:
    api: TrophyApi = setup["api"]
    made = api.admin.achievements.create(
        request=[
            CreateAchievementRequestItem(
                name="First lesson",
                key="first-lesson",
                trigger="metric",
                metric_id=setup["lessons"],
                metric_value=1,
            )
        ]
    ).created[0]
    assert made.status == "inactive"
    api.admin.achievements.update(
        request=[UpdateAchievementRequestItem(id=made.id, status="active")]
    )
    wait_for_change(
        laurel.ns.database_url,
        lambda: "first-lesson" in {a.key for a in api.users.achievements(id=USER)},
        what="the backdate to complete the achievement",
    )
    assert "first-lesson" not in {a.key for a in api.users.achievements(id="bea")}
    notified = active_query(
        laurel.ns.database_url,
        "SELECT count(*) FROM outbox WHERE kind = 'achievement.completed' "
        f"AND body->>'achievementId' = '{made.id}'",
    )
    assert notified == [(0,)]


def test_the_admin_api_round_trips_every_resource(setup: dict[str, Any], clock: ClockFile) -> None:
    api: TrophyApi = setup["api"]
    # Configuration changes apply from their instant on: move past the last event's instant.
    clock.set(DAY_ONE + timedelta(days=2, minutes=1))
    systems = {s.key: s for s in api.admin.points.systems.list(limit=100)}
    xp = systems["xp"]
    assert api.admin.points.systems.get(id=xp.id).max_points == 1000
    renamed = api.admin.points.systems.update(
        request=[UpdatePointsSystemRequestItem(id=xp.id, name="Experience")]
    )
    assert renamed.updated[0].name == "Experience"
    assert api.points.system(key="xp").name == "Experience"

    triggers = api.admin.points.triggers.list(system_id=xp.id)
    assert {t.type for t in triggers} == {"metric", "achievement", "user_creation"}
    metric_trigger = next(t for t in triggers if t.type == "metric")
    assert api.admin.points.triggers.get(system_id=xp.id, id=metric_trigger.id).points == 10
    changed = api.admin.points.triggers.update(
        system_id=xp.id, request=[PatchPointsTriggersRequestItem(id=metric_trigger.id, points=12)]
    )
    assert changed.updated[0].points == 12
    refused = api.admin.points.triggers.update(
        system_id=xp.id,
        request=[PatchPointsTriggersRequestItem(id=metric_trigger.id, type="streak")],
    )
    assert "inactive" in refused.issues[0].message  # type changes only while inactive

    boosts = api.admin.points.boosts.list(system_id=xp.id)
    assert [(b.name, b.status) for b in boosts] == [("Double Tuesday", "finished")]
    longer = api.admin.points.boosts.update(
        system_id=xp.id, request=[PatchPointsBoostsRequestItem(id=boosts[0].id, end="2099-01-01")]
    )
    assert longer.updated[0].status == "active"
    assert api.admin.points.boosts.delete(system_id=xp.id, ids=[boosts[0].id]).deleted
    assert {lv.key for lv in api.admin.points.levels.list(system_id=xp.id)} == {"bronze", "silver"}

    achievements = {a.key: a for a in api.admin.achievements.list(limit=100)}
    survey = api.admin.achievements.get(id=achievements["survey"].id)
    assert (survey.trigger, survey.status) == ("api", "active")
    locked = api.admin.achievements.update(
        request=[UpdateAchievementRequestItem(id=survey.id, status="locked")]
    )
    assert locked.updated[0].status == "locked"
    back = api.admin.achievements.update(
        request=[UpdateAchievementRequestItem(id=survey.id, status="inactive")]
    )
    assert "cannot move" in back.issues[0].message
    assert "survey" in {a.key for a in api.users.achievements(id=USER)}  # earned: still shown
    assert "survey" not in {
        a.key for a in api.users.achievements(id="bea", include_incomplete="true")
    }
    gone = api.admin.achievements.create(
        request=[CreateAchievementRequestItem(name="Temp", trigger="streak", streak_length=9)]
    ).created[0]
    assert api.admin.achievements.delete(ids=[gone.id]).deleted[0].id == gone.id


def test_the_scheduler_pays_time_triggers_once_per_interval_and_anniversaries(
    setup: dict[str, Any], clock: ClockFile, laurel: LaurelProcesses
) -> None:
    api: TrophyApi = setup["api"]
    start = DAY_ONE + timedelta(days=2, hours=1)  # 2026-06-03 13:00 UTC
    clock.set(start)
    api.admin.points.systems.create(
        request=[
            CreatePointsSystemRequestItem(
                name="Refill",
                key="refill",
                triggers=[
                    CreatePointsTriggerRequestItem(
                        type="time", points=2, status="active", time_unit="hours", time_interval=6
                    )
                ],
            )
        ]
    )
    api.admin.achievements.create(
        request=[
            CreateAchievementRequestItem(
                name="One year",
                key="one-year",
                trigger="anniversary",
                status="active",
                anniversary_years=1,
            )
        ]
    )
    api.users.identify(id="cal", tz="UTC", sign_up_date="2025-06-04")

    db = laurel.ns.database_url

    def refill() -> int:
        return int(api.users.points(id="cal", key="refill").total)

    clock.set(start + timedelta(hours=12))  # two intervals; the anniversary's day
    wait_for_change(db, lambda: refill() == 4, what="the scheduler to pay two intervals")
    wait_for_change(
        db,
        lambda: "one-year" in {a.key for a in api.users.achievements(id="cal")},
        what="the scheduler to complete the anniversary",
    )
    kinds = [kind for user, kind, _ in tick_outbox(laurel.ns.database_url) if user == "cal"]
    assert kinds.count("achievement.completed") == 1
    assert kinds.count("points.changed") == 1

    laurel.kill_processor()  # time triggers survive a crash without paying twice
    laurel.start_processor()
    clock.set(start + timedelta(hours=24))  # four intervals in all
    wait_for_change(db, lambda: refill() == 8, what="the scheduler to pay the next two intervals")
    awarded = [
        body["awarded"]
        for user, kind, body in tick_outbox(laurel.ns.database_url)
        if user == "cal" and kind == "points.changed"
    ]
    assert sum(awarded) == 8


def test_the_projection_equals_a_reference_fold_of_the_topic(
    setup: dict[str, Any], laurel: LaurelProcesses
) -> None:
    ns = laurel.ns
    reference = fold_of_applied_topic(ns)
    expected = reference_states(reference, "user_points")
    assert projected_states(ns.database_url, "user_points") == expected
