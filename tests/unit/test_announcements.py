"""When the time-driven webhooks fire: Trophy's documented instants."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from processors.ranker import ChangeWindows
from projections.core.announcements import (
    boost_finished_at,
    boost_started_at,
    run_started_at,
    runs_starting,
)
from projections.core.leaderboards import Leaderboard, Run
from projections.store.ranking_cache import GroupKey
from projections.store.webhook_messages import timed_messages
from tests.unit.test_rewards import XP, boost, config

START, END = date(2026, 6, 2), date(2026, 6, 3)


def test_a_global_boost_fires_at_10_utc_the_day_before_and_finishes_at_13_the_day_after() -> None:
    global_boost = replace(boost(30, 2.0), start=START, end=END)
    assert boost_started_at(global_boost) == datetime(2026, 6, 1, 10, tzinfo=UTC)
    assert boost_finished_at(global_boost) == datetime(2026, 6, 4, 13, tzinfo=UTC)
    assert boost_finished_at(replace(global_boost, end=None)) is None


def test_a_users_boost_fires_at_the_start_and_end_of_their_local_days() -> None:
    mine = replace(boost(31, 2.0, user_id="u"), start=START, end=END)
    started = boost_started_at(mine, "Asia/Tokyo")
    assert started.astimezone(UTC) == datetime(2026, 6, 1, 15, tzinfo=UTC)  # 00:00 +09:00
    finished = boost_finished_at(mine, "America/New_York")
    assert finished is not None
    assert finished.astimezone(UTC) == datetime(2026, 6, 4, 4, tzinfo=UTC)  # 00:00 -04:00
    assert boost_started_at(mine, None).astimezone(UTC) == datetime(2026, 6, 2, tzinfo=UTC)


def test_each_run_of_a_repeating_board_is_announced_the_day_before_it_starts() -> None:
    board = Leaderboard(
        valid_from=datetime(2026, 1, 1, tzinfo=UTC),
        valid_to=None,
        tenant="",
        id=uuid.uuid4(),
        key="weekly",
        name="Weekly",
        rank_by="metric",
        start=date(2026, 6, 1),
        run_unit="day",
        run_interval=7,
        status="active",
        created=datetime(2026, 1, 1, tzinfo=UTC),
    )
    runs = runs_starting(board, date(2026, 6, 1), date(2026, 6, 20))
    assert [r.start for r in runs] == [date(2026, 6, 1), date(2026, 6, 8), date(2026, 6, 15)]
    assert run_started_at(Run(date(2026, 6, 8), date(2026, 6, 14))) == datetime(
        2026, 6, 7, 10, tzinfo=UTC
    )


def test_a_boost_is_announced_for_a_day_from_when_it_is_due_with_an_id_naming_it() -> None:
    cfg = config(boosts=(replace(boost(30, 2.0), start=START, end=END),))

    def at(instant: datetime) -> list[tuple[str, str]]:
        found = timed_messages(cfg, [""], instant, {}, lambda tenant, kind: True)
        return [(m.type, m.id) for m in found]

    assert at(datetime(2026, 6, 1, 9, 59, tzinfo=UTC)) == []
    (started,) = at(datetime(2026, 6, 1, 10, tzinfo=UTC))
    assert started[0] == "points.boost_started"
    assert at(datetime(2026, 6, 2, 9, tzinfo=UTC)) == [started]  # the same id all day
    assert at(datetime(2026, 6, 2, 10, tzinfo=UTC)) == []  # a day late: not sent at all
    (finished,) = at(datetime(2026, 6, 4, 13, 30, tzinfo=UTC))
    assert finished[0] == "points.boost_finished"
    body = timed_messages(cfg, [""], datetime(2026, 6, 1, 10, tzinfo=UTC), {}, lambda t, k: True)
    assert body[0].body["boost"]["pointsSystemId"] == str(XP)
    assert body[0].body["boost"]["status"] == "active"
    unwanted = timed_messages(
        cfg, [""], datetime(2026, 6, 1, 10, tzinfo=UTC), {}, lambda t, k: False
    )
    assert unwanted == []


def test_a_boards_change_is_sent_at_most_once_per_window_and_a_later_one_waits() -> None:
    windows = ChangeWindows(timedelta(minutes=15))
    group = GroupKey("t", uuid.uuid4(), date(2026, 6, 1), "")
    t0 = datetime(2026, 6, 1, 12, tzinfo=UTC)
    assert windows.due({group}, t0) == [group]  # the first change: at once
    assert windows.due({group}, t0 + timedelta(minutes=1)) == []  # inside the window: waits
    assert windows.tenants() == {"t"}
    assert windows.due(set(), t0 + timedelta(minutes=14)) == []
    assert windows.due(set(), t0 + timedelta(minutes=15)) == [group]  # the window's end
    assert windows.due(set(), t0 + timedelta(minutes=16)) == []  # nothing more waited
    windows.forget()  # (what a rolled-back round does: the next one loads what was stored)
    assert windows.due({group}, t0 + timedelta(minutes=17)) == [group]
