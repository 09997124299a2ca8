"""Leaderboards through Trophy's official SDK: boards ranked by a metric (with a participant
limit), by points in daily runs, by streak, broken down by city and limited to a morning
window; ties, thresholds, paging, around-me, past runs, user history, statuses and the admin
API — then the stored entries against a reference fold of the topic."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from trophy import (
    CreateAttributeRequestItem,
    CreateLeaderboardRequestItem,
    CreateMetricRequestItem,
    CreatePointsSystemRequestItem,
    CreatePointsTriggerRequestItem,
    StreakSettingsMetric,
    UpdateLeaderboardRequestItem,
    UpsertedUser,
)
from trophy.client import TrophyApi
from trophy.core.api_error import ApiError

from tests.e2e.test_trophy_sdk import sdk
from tests.support.clock import ClockFile
from tests.support.infra import Namespace
from tests.support.processes import LaurelProcesses
from tests.support.reference import (
    active_query,
    fold_of_applied_topic,
    projected_entries,
    reference_entries,
    wait_until_applied,
)
from tests.support.waiting import wait_for_change

pytestmark = pytest.mark.e2e

DAY_ONE = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # a Monday; 13:00 in London, 21:00 in Tokyo
PEOPLE = {
    "ada": ("Europe/London", "London"),
    "bob": ("America/New_York", "New York"),
    "cy": ("Europe/London", "London"),
    "dee": ("Asia/Tokyo", "London"),
    "eve": ("UTC", "Paris"),
}


@pytest.fixture(scope="module")
def setup(laurel: LaurelProcesses) -> dict[str, Any]:
    api = sdk(laurel, laurel.admin_key)
    lessons = api.admin.metrics.create(
        request=[CreateMetricRequestItem(name="Lessons", key="lessons")]
    ).created[0]
    city = api.admin.attributes.create(
        request=[CreateAttributeRequestItem(name="City", key="city", type="user")]
    ).created[0]
    api.admin.streaks.settings.update(metrics=[StreakSettingsMetric(key="lessons", threshold=1)])
    xp = api.admin.points.systems.create(
        request=[
            CreatePointsSystemRequestItem(
                name="XP",
                key="xp",
                triggers=[
                    CreatePointsTriggerRequestItem(
                        type="metric",
                        points=10,
                        status="active",
                        metric_id=lessons.id,
                        metric_threshold=1,
                    )
                ],
            )
        ]
    ).created[0]
    made = api.admin.leaderboards.create(
        request=[
            CreateLeaderboardRequestItem(
                name="Top learners",
                key="top",
                rank_by="metric",
                metric_id=lessons.id,
                status="active",
                max_participants=3,
                start="2026-06-01",
            ),
            CreateLeaderboardRequestItem(
                name="Daily XP",
                key="daily-xp",
                rank_by="points",
                points_system_id=xp.id,
                status="active",
                start="2026-06-01",
                run_unit="day",
                run_interval=1,
            ),
            CreateLeaderboardRequestItem(
                name="By city",
                key="by-city",
                rank_by="metric",
                metric_id=lessons.id,
                status="active",
                start="2026-06-01",
                breakdown_attributes=[city.id],
            ),
            CreateLeaderboardRequestItem(
                name="Streaks", key="streaks", rank_by="streak", status="active", start="2026-06-01"
            ),
            CreateLeaderboardRequestItem(
                name="Mornings",
                key="mornings",
                rank_by="metric",
                metric_id=lessons.id,
                status="active",
                start="2026-06-01",
                start_time="09:00",
                end_time="12:00",
            ),
            CreateLeaderboardRequestItem(
                name="July",
                key="july",
                rank_by="metric",
                metric_id=lessons.id,
                status="scheduled",
                start="2026-07-01",
                end="2026-07-31",
            ),
            CreateLeaderboardRequestItem(
                name="Draft", key="draft", rank_by="metric", metric_id=lessons.id
            ),
        ]
    )
    assert not made.issues, made.issues
    return {
        "api": api,
        "boards": {b.key: b for b in made.created},
        "city": city.id,
        "ns": laurel.ns,
    }


def ranked(ns: Namespace) -> None:
    """Wait until the ranker has observed every entry written so far."""
    wait_until_applied(ns)
    wait_for_change(
        ns.database_url,
        lambda: active_query(
            ns.database_url,
            "SELECT (SELECT written FROM ranker_position) > "
            "(SELECT max(written) FROM leaderboard_entries)",
        )[0][0],
        what="the ranker to observe every entry",
    )


def lessons(api: TrophyApi, user: str, value: int) -> Any:
    tz, city = PEOPLE[user]
    person = UpsertedUser(id=user, name=user.title(), tz=tz, attributes={"city": city})
    return api.metrics.event(key="lessons", user=person, value=value)


def test_event_answers_carry_ranks_thresholds_and_runs(setup: dict[str, Any]) -> None:
    api: TrophyApi = setup["api"]
    first = lessons(api, "ada", 5).leaderboards
    assert set(first) == {"top", "daily-xp", "by-city", "streaks"}  # 13:00: not a morning
    top = first["top"]
    assert (top.rank, top.previous_rank, top.threshold) == (1, None, 0)
    assert (top.start, top.end, top.max_participants) == ("2026-06-01", None, 3)
    assert (top.metric_key, top.metric_name) == ("lessons", "Lessons")
    daily = first["daily-xp"]
    assert (daily.start, daily.end, daily.rank, daily.points_system_key) == (
        "2026-06-01",
        "2026-06-01",
        1,
        "xp",
    )
    city = first["by-city"]
    assert city.breakdown_attribute_values is not None
    assert [(v.key, v.value) for v in city.breakdown_attribute_values] == [("city", "London")]
    assert first["streaks"].rank == 1

    lessons(api, "bob", 3)
    ranked(setup["ns"])  # the ranker sees bob at 2 before cy passes him
    cy = lessons(api, "cy", 2).leaderboards["top"]
    assert (cy.rank, cy.previous_rank, cy.threshold) == (3, None, 2)  # full: 5, 3, 2
    cy = lessons(api, "cy", 3).leaderboards["top"]  # 5: ties ada, who got there first
    assert (cy.rank, cy.previous_rank, cy.threshold) == (1, 3, 3)
    eve = lessons(api, "eve", 2).leaderboards["top"]  # must beat 3 to enter
    assert (eve.rank, eve.previous_rank, eve.threshold) == (None, None, 3)
    dee = lessons(api, "dee", 1).leaderboards
    assert dee["top"].rank is None
    assert dee["daily-xp"].start == "2026-06-01"  # 21:00 in Tokyo: still Monday


def test_the_ranker_stores_ranks_and_rank_changes(
    setup: dict[str, Any], laurel: LaurelProcesses, clock: ClockFile
) -> None:
    ranked(laurel.ns)
    top = str(setup["boards"]["top"].id)

    def ranks() -> dict[str, int | None]:
        query = f"SELECT user_id, rank FROM leaderboard_ranks WHERE leaderboard_id = '{top}'"
        return dict(active_query(laurel.ns.database_url, query))

    # Every entry's first rank is written at once; a later change waits for the end of the
    # participant's 15-minute window (cy's climb, bob pushed down by it).
    assert set(ranks()) == {"ada", "cy", "bob", "eve", "dee"}
    clock.set(DAY_ONE + timedelta(minutes=15))
    expected = {"ada": 1, "cy": 1, "bob": 3, "eve": None, "dee": None}
    wait_for_change(laurel.ns.database_url, lambda: ranks() == expected, what=f"ranks {expected}")
    changes = active_query(
        laurel.ns.database_url,
        "SELECT user_id, previous_rank, rank, previous_value, value FROM leaderboard_rank_changes "
        f"WHERE leaderboard_id = '{top}' ORDER BY id",
    )
    for user, rank in expected.items():  # each user's changes chain up to the rank now
        mine = [c[1:] for c in changes if c[0] == user]
        assert mine, user
        assert mine[0][0] is None
        assert all(a[1] == b[0] and a[1] != b[1] for a, b in itertools.pairwise(mine))
        assert mine[-1][1] == rank
    bob = [c[1:] for c in changes if c[0] == "bob"]
    assert bob[-1] == (2, 3, 3, 3)  # passed by cy: bob's value did not change


def test_rankings_pages_and_around_me(setup: dict[str, Any]) -> None:
    api: TrophyApi = setup["api"]
    board = api.leaderboards.get(key="top")
    assert board.status == "active"
    assert [(r.user_id, r.user_name, r.rank, r.value) for r in board.rankings] == [
        ("ada", "Ada", 1, 5),
        ("cy", "Cy", 1, 5),
        ("bob", "Bob", 3, 3),
    ]
    assert [r.user_id for r in api.leaderboards.get(key="top", offset=1, limit=1).rankings] == [
        "cy"
    ]
    around = api.leaderboards.get(key="top", user_id="cy", limit=2).rankings
    assert [r.user_id for r in around] == ["cy", "bob"]
    assert api.leaderboards.get(key="top", user_id="eve").rankings == []  # below the limit
    with pytest.raises(ApiError) as too_many:
        api.leaderboards.get(key="top", limit=4)
    assert too_many.value.status_code == 422

    london = api.leaderboards.get(key="by-city", user_attributes="city:London").rankings
    assert [(r.user_id, r.rank) for r in london] == [("ada", 1), ("cy", 1), ("dee", 3)]
    paris = api.leaderboards.get(key="by-city", user_attributes="city:Paris").rankings
    assert [(r.user_id, r.rank, r.value) for r in paris] == [("eve", 1, 2)]
    for missing in (None, "planet:Mars"):
        with pytest.raises(ApiError) as wrong:
            api.leaderboards.get(key="by-city", user_attributes=missing)
        assert wrong.value.status_code == 422
        assert "userAttributes" in wrong.value.body["error"]
    with pytest.raises(ApiError) as unknown:
        api.leaderboards.get(key="no-such-board")
    assert unknown.value.status_code == 404
    with pytest.raises(ApiError) as draft:
        api.leaderboards.get(key="draft")  # inactive boards are invisible
    assert draft.value.status_code == 404


def test_daily_runs_the_window_and_history(setup: dict[str, Any], clock: ClockFile) -> None:
    api: TrophyApi = setup["api"]
    ranked(setup["ns"])  # Monday's ranks are observed before Tuesday begins
    clock.set(DAY_ONE + timedelta(days=1, hours=-2))  # Tuesday 10:00 UTC, 11:00 in London
    answer = lessons(api, "ada", 1).leaderboards
    assert answer["daily-xp"].start == "2026-06-02"  # a new run, from zero
    assert answer["mornings"].rank == 1  # 11:00 in London: inside 09:00-12:00
    today = api.leaderboards.get(key="daily-xp").rankings
    assert [(r.user_id, r.value) for r in today] == [("ada", 10)]
    monday = api.leaderboards.get(key="daily-xp", run="2026-06-01", limit=10).rankings
    assert [(r.user_id, r.value) for r in monday] == [
        ("ada", 50),
        ("cy", 50),
        ("bob", 30),
        ("eve", 20),
        ("dee", 10),
    ]
    assert [r.user_id for r in api.leaderboards.get(key="mornings").rankings] == ["ada"]

    # Monday's run is final at 12:00 UTC on Tuesday: over in every zone (UTC-12 last)
    clock.set(DAY_ONE + timedelta(days=1))
    daily_id = str(setup["boards"]["daily-xp"].id)
    results = wait_for_change(
        setup["ns"].database_url,
        lambda: active_query(
            setup["ns"].database_url,
            f"SELECT run::text, top FROM leaderboard_results WHERE leaderboard_id = '{daily_id}'",
        ),
        what="Monday's daily-xp results",
    )
    assert [(run, [(t["userId"], t["rank"], t["value"]) for t in top]) for run, top in results] == [
        (
            "2026-06-01",
            [("ada", 1, 50), ("cy", 1, 50), ("bob", 3, 30), ("eve", 4, 20), ("dee", 5, 10)],
        )
    ]

    mine = api.users.leaderboard(id="ada", key="top")
    assert (mine.rank, mine.value) == (1, 6)
    assert mine.history is not None
    assert [(h.date, h.previous_rank, h.rank, h.previous_value, h.value) for h in mine.history] == [
        ("2026-06-01", None, 1, None, 5),
        ("2026-06-02", 1, 1, 5, 6),
    ]
    past = api.users.leaderboard(id="ada", key="daily-xp", run="2026-06-01")
    assert (past.rank, past.value) == (1, 50)
    below = api.users.leaderboard(id="eve", key="top")
    assert (below.rank, below.value) == (None, None)


def test_statuses_and_the_admin_api(setup: dict[str, Any]) -> None:
    api: TrophyApi = setup["api"]
    visible = {b.key: b.status for b in api.leaderboards.all_()}
    assert visible == {
        "top": "active",
        "daily-xp": "active",
        "by-city": "active",
        "streaks": "active",
        "mornings": "active",
        "july": "scheduled",
    }
    boards = setup["boards"]
    top = api.admin.leaderboards.get(id=boards["top"].id)
    assert (top.key, top.rank_by, top.max_participants, top.status) == (
        "top",
        "metric",
        3,
        "active",
    )
    assert {b.key for b in api.admin.leaderboards.list()} >= {"top", "draft"}
    changed = api.admin.leaderboards.update(
        request=[
            UpdateLeaderboardRequestItem(id=boards["top"].id, name="Top five", max_participants=5),
            UpdateLeaderboardRequestItem(id=boards["top"].id, rank_by="streak"),
            UpdateLeaderboardRequestItem(id=boards["draft"].id, rank_by="streak"),  # inactive
            UpdateLeaderboardRequestItem(id=boards["draft"].id, status="active"),
        ]
    )
    assert [b.name for b in changed.updated] == ["Top five", "Draft", "Draft"]
    assert (changed.updated[1].rank_by, changed.updated[1].metric_id) == ("streak", None)
    assert len(changed.issues) == 1
    assert "only while the leaderboard is inactive" in changed.issues[0].message
    grown = api.leaderboards.get(key="top", limit=5).rankings
    assert [r.user_id for r in grown] == ["ada", "cy", "bob", "eve", "dee"]

    refused = api.admin.leaderboards.create(
        request=[
            CreateLeaderboardRequestItem(
                name="R", key="r1", rank_by="streak", run_unit="day", run_interval=1
            ),
            CreateLeaderboardRequestItem(name="R", key="r2", rank_by="metric"),
            CreateLeaderboardRequestItem(
                name="R",
                key="r3",
                rank_by="metric",
                metric_id=boards["top"].metric_id,
                status="active",
                start="2099-01-01",
            ),
        ]
    )
    assert refused.created == []
    assert [i.index for i in refused.issues] == [0, 1, 2]
    assert "cannot repeat" in refused.issues[0].message
    gone = api.admin.leaderboards.delete(ids=[boards["draft"].id])
    assert [d.id for d in gone.deleted] == [boards["draft"].id]


def test_the_entries_equal_a_reference_fold_of_the_topic(
    setup: dict[str, Any], laurel: LaurelProcesses
) -> None:
    ns = laurel.ns
    reference = fold_of_applied_topic(ns)
    expected = reference_entries(reference)
    assert len(expected) >= 15
    assert projected_entries(ns.database_url) == expected
