"""``client.users.wrapped`` through Trophy's SDK, and Laurel's analytics endpoints: a seeded
year, every figure computed by hand.

Wren records lessons on 3, 4 and 5 March 2025 (2, 5 and 1) and on 10 July (3); Xena 20 on 10
July; Yuri nothing in 2025. Weeks start on Monday (3 March 2025 is one)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from trophy import (
    CreateAchievementRequestItem,
    CreateAttributeRequestItem,
    CreateMetricRequestItem,
    StreakSettingsMetric,
    UpsertedUser,
)
from trophy.client import TrophyApi
from trophy.core.api_error import ApiError

from tests.e2e.test_trophy_sdk import sdk
from tests.support.clock import ClockFile
from tests.support.processes import LaurelProcesses
from tests.support.reference import active_rows

pytestmark = pytest.mark.e2e

DAY_ONE = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
MIGRATIONS = Path(__file__).resolve().parents[2] / "src/projections/store/migrations"
LESSONS = [  # (user, day, lessons, where: the event attribute "source")
    ("wren", date(2025, 3, 3), 2, "web"),
    ("wren", date(2025, 3, 4), 5, "app"),
    ("wren", date(2025, 3, 5), 1, "web"),
    ("wren", date(2025, 7, 10), 3, "web"),
    ("xena", date(2025, 7, 10), 20, "app"),
]


@pytest.fixture(scope="module")
def client(laurel: LaurelProcesses, clock: ClockFile) -> TrophyApi:
    api = sdk(laurel, laurel.admin_key)
    (metric,) = api.admin.metrics.create(
        request=[CreateMetricRequestItem(name="Lessons", key="lessons")]
    ).created
    api.admin.streaks.settings.update(
        frequency="daily", metrics=[StreakSettingsMetric(key="lessons", threshold=1)]
    )
    api.admin.achievements.create(
        request=[
            CreateAchievementRequestItem(
                name="Five lessons",
                key="five-lessons",
                trigger="metric",
                status="active",
                metric_id=metric.id,
                metric_value=5,
            )
        ]
    )
    api.admin.attributes.create(
        request=[CreateAttributeRequestItem(name="Source", key="source", type="event")]
    )
    for user, day, value, source in LESSONS:
        clock.set(datetime.combine(day, datetime.min.time(), UTC).replace(hour=12))
        user_patch = UpsertedUser(id=user, tz="UTC")
        api.metrics.event(
            key="lessons", user=user_patch, value=value, attributes={"source": source}
        )
    clock.set(datetime(2026, 1, 15, 12, tzinfo=UTC))
    api.users.identify(id="yuri", tz="UTC")
    return api


def lessons(block: Any) -> tuple[Any, ...]:
    m = block.metrics["lessons"]
    return (m.current_total, m.change_this_period, m.percent_change, m.percentile_this_period)


def test_a_seeded_year_in_review(client: TrophyApi) -> None:
    wrapped = client.users.wrapped(id="wren", year=2025)
    assert wrapped.user.id == "wren"
    activity = wrapped.activity
    assert (activity.days_active, activity.weeks_active, activity.months_active) == (4, 2, 2)

    day = activity.most_active_day  # 4 March: 5 lessons, the total from 2 to 7
    assert day.date == "2025-03-04"
    assert lessons(day) == (7, 5, 250.0, 100.0)  # nobody else had lessons that day
    assert [a.key for a in day.achievements] == ["five-lessons"]

    week = activity.most_active_week  # 3 to 9 March: 8 lessons, from nothing
    assert (week.start, week.end) == ("2025-03-03", "2025-03-09")
    assert lessons(week) == (8, 8, 0.0, 100.0)

    month = activity.most_active_month
    assert month.month == 2  # March (months count from 0)
    assert lessons(month)[:2] == (8, 8)

    year = activity.entire_year
    # 11 lessons: of the 3 users, Wren (11) and Yuri (0) had at most that; Xena had 20
    assert lessons(year) == (11, 11, 0.0, 66.7)
    assert [a.key for a in year.achievements] == ["five-lessons"]
    # by where the lessons were taken: on the web 2 + 1 + 3 (nobody else: all 3 users at most
    # that), in the app 5 (Xena 20 there: Wren and Yuri at most that)
    by_source = year.metrics["lessons"].by_attribute["source"]
    assert {
        v: (f.current_total, f.change_this_period, f.percentile_this_period)
        for v, f in by_source.items()
    } == {"web": (6, 6, 100.0), "app": (5, 5, 66.7)}
    on_the_day = day.metrics["lessons"].by_attribute["source"]
    assert (on_the_day["app"].change_this_period, on_the_day["web"].change_this_period) == (5, 0)
    assert on_the_day["web"].current_total == 2  # 3 March's, before the day
    streak = year.longest_streak
    assert (streak.length, streak.frequency) == (3, "daily")
    assert (streak.started, streak.period_start, streak.period_end) == (
        "2025-03-03",
        "2025-03-05",
        "2025-03-05",
    )


def test_a_quiet_year_a_future_year_and_an_unknown_user(client: TrophyApi) -> None:
    quiet = client.users.wrapped(id="yuri", year=2025)
    assert (quiet.activity.days_active, quiet.activity.entire_year.longest_streak.length) == (0, 0)
    # of the 3 users only Yuri had at most Yuri's 0
    assert lessons(quiet.activity.entire_year) == (0, 0, 0.0, 33.3)
    with pytest.raises(ApiError) as future:
        client.users.wrapped(id="wren", year=2027)
    assert future.value.status_code == 422
    with pytest.raises(ApiError) as unknown:
        client.users.wrapped(id="nobody", year=2025)
    assert unknown.value.status_code == 404


def test_the_analytics_overview_and_retention_of_the_seeded_year(
    client: TrophyApi, laurel: LaurelProcesses
) -> None:
    with httpx.Client(base_url=laurel.base_url, headers=laurel.headers, timeout=30) as admin:
        march = admin.get(
            "/admin/v1/analytics/overview", params={"since": "2025-03-03", "until": "2025-03-05"}
        )
        assert march.status_code == 200, march.text
        days = march.json()["days"]
        assert [(d["date"], d["activeUsers"], d["newUsers"], d["engagement"]) for d in days] == [
            ("2025-03-03", 1, 1, 2.0),
            ("2025-03-04", 1, 0, 5.0),
            ("2025-03-05", 1, 0, 1.0),
        ]
        assert days[1]["metrics"]["lessons"] == {
            "activeUsers": 1,
            "events": 1,
            "total": 5,
            "engagement": 5.0,
        }
        assert march.json()["weeks"] == [{"start": "2025-03-03", "activeUsers": 1}]
        assert march.json()["months"] == [{"start": "2025-03-01", "activeUsers": 1}]

        july = admin.get(
            "/admin/v1/analytics/overview", params={"since": "2025-07-10", "until": "2025-07-10"}
        ).json()
        (day,) = july["days"]
        assert (day["activeUsers"], day["newUsers"], day["engagement"]) == (2, 1, 11.5)
        assert (day["metrics"]["lessons"]["events"], day["metrics"]["lessons"]["total"]) == (2, 23)
        assert july["months"] == [{"start": "2025-07-01", "activeUsers": 2}]

        found = admin.get(
            "/admin/v1/analytics/retention", params={"since": "2025-03-03", "until": "2025-07-13"}
        )
        assert found.status_code == 200, found.text
        cohorts = {c["week"]: c for c in found.json()["cohorts"]}
        wren = cohorts["2025-03-03"]  # back in the week of 7 July, 18 weeks on
        assert (wren["users"], wren["retained"][0], wren["retained"][18]) == (1, 1.0, 1.0)
        assert sum(wren["retained"]) == 2.0
        xena = cohorts["2025-07-07"]
        assert (xena["users"], sum(xena["retained"])) == (1, 1.0)
        assert cohorts["2025-03-10"]["users"] == 0
        # of the two first days in the span (Wren's, Xena's), only Wren came back the day after
        assert {k: found.json()[k] for k in ("day1", "day7", "day30")} == {
            "day1": 0.5,
            "day7": 0.0,
            "day30": 0.0,
        }

        backwards = admin.get(
            "/admin/v1/analytics/overview", params={"since": "2025-03-05", "until": "2025-03-03"}
        )
        assert backwards.status_code == 422
        assert "after" in backwards.json()["error"]


def test_the_event_log_lists_a_users_commands_with_their_outcomes(
    client: TrophyApi, laurel: LaurelProcesses
) -> None:
    with httpx.Client(base_url=laurel.base_url, headers=laurel.headers, timeout=30) as admin:
        found = admin.get(
            "/admin/v1/events",
            params={"userId": "wren", "type": "metric.event", "metric": "lessons"},
        )
        assert found.status_code == 200, found.text
        log = found.json()
        assert [e["receivedAt"][:10] for e in log] == [
            "2025-07-10",
            "2025-03-05",
            "2025-03-04",
            "2025-03-03",
        ]
        assert [e["outcome"]["total"] for e in log] == [11, 8, 7, 2]
        assert {e["status"] for e in log} == {"applied"}
        newest = admin.get(f"/v1/events/{log[0]['eventId']}")  # the same outcome, by id
        assert newest.status_code == 200, newest.text
        window = admin.get(
            "/admin/v1/events",
            params={
                "userId": "wren",
                "type": "metric.event",
                "since": "2025-03-04T00:00:00Z",
                "until": "2025-03-05T23:59:59Z",
            },
        ).json()
        assert [e["receivedAt"][:10] for e in window] == ["2025-03-05", "2025-03-04"]
        assert admin.get("/admin/v1/events", params={"userId": "nobody"}).json() == []
        assert admin.get("/admin/v1/dead-letters").json() == []  # nothing was refused


ROLLUPS = (
    "user_days",
    "user_activity",
    "user_periods",
    "tenant_daily",
    "tenant_periods",
    "retention_daily",
    "retention_weekly",
    "metric_activity",
)


def test_the_migrations_backfill_equals_what_the_processor_wrote(
    client: TrophyApi, laurel: LaurelProcesses
) -> None:
    # an installation upgraded with activity recorded: the migration computes the rollups
    # from the daily rows and the stored outcomes; they must be what the processor writes,
    # or a later replay's rebuild would differ from the live schema
    migration = (MIGRATIONS / "projection_0008_activity.sql").read_text()
    backfill = migration[migration.index("-- What the processor would have written") :]
    database = laurel.ns.database_url
    written = {t: sorted(active_rows(database, "*", t)) for t in ROLLUPS}
    assert written["metric_activity"]
    with psycopg.connect(database, autocommit=False) as conn:
        active = conn.execute("SELECT schema_name FROM laurel.active_projection").fetchone()
        assert active is not None
        schema = active[0]
        try:
            for table in ROLLUPS:
                conn.execute(f'DELETE FROM "{schema}".{table}'.encode())
            conn.execute(backfill.replace("{schema}", f'"{schema}"').encode())
            for table in ROLLUPS:
                rows = conn.execute(f'SELECT * FROM "{schema}".{table}'.encode()).fetchall()
                assert sorted(rows) == written[table], table
        finally:
            conn.rollback()


def test_the_overview_and_the_event_log_export_as_csv(
    client: TrophyApi, laurel: LaurelProcesses
) -> None:
    with httpx.Client(base_url=laurel.base_url, headers=laurel.headers, timeout=30) as admin:
        table = admin.get(
            "/admin/v1/analytics/overview",
            params={"since": "2025-03-04", "until": "2025-03-06", "format": "csv"},
        )
        assert table.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(table.text)))
        assert rows[0][:5] == ["date", "activeUsers", "newUsers", "engagement", "metric"]
        assert rows[1][:6] == ["2025-03-04", "1", "0", "5.0", "lessons", "1"]
        assert rows[3][:5] == ["2025-03-06", "0", "0", "0.0", ""]  # a quiet day, still a row
        query = {"userId": "xena", "type": "metric.event", "format": "csv"}
        log = admin.get("/admin/v1/events", params=query)
        (header, row) = list(csv.reader(io.StringIO(log.text)))
        assert header == ["eventId", "userId", "type", "status", "receivedAt", "outcome"]
        assert row[1:4] == ["xena", "metric.event", "applied"]
        assert json.loads(row[5])["total"] == 20
