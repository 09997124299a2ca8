"""The dashboard in a real headless Chromium (Debian's, driven by Playwright): signing in, a
wrong key's error, every page on seeded data with the numbers the Admin API answers, a user's
command found in the event log. Screenshots of every page go to ``LAUREL_SCREENSHOTS``
(default ``build/screenshots``)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.support.clock import ClockFile
from tests.support.processes import LaurelProcesses

pytestmark = pytest.mark.e2e

DAY_ONE = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)  # a Monday
SCREENSHOTS = Path(os.environ.get("LAUREL_SCREENSHOTS", "build/screenshots"))
ENV = {"LAUREL_WEBHOOK_ALLOWED_CIDRS": "127.0.0.0/8"}  # an endpoint nobody answers, on loopback


TWO_LESSONS: dict[str, Any] = {"name": "Two", "key": "two", "trigger": "metric"}
TWO_LESSONS |= {"status": "active", "metricValue": 2}
TOP = {"name": "Top", "key": "top", "rankBy": "metric", "status": "active", "start": "2026-01-01"}


def xp_system(metric_id: str) -> dict[str, Any]:
    trigger = {"type": "metric", "points": 10, "status": "active", "metricThreshold": 1}
    return {"name": "XP", "key": "xp", "triggers": [dict(trigger, metricId=metric_id)]}


@pytest.fixture(scope="module")
def admin(laurel: LaurelProcesses, clock: ClockFile) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=laurel.base_url, headers=laurel.headers, timeout=30) as client:
        made = client.post("/admin/v1/metrics", json=[{"name": "Lessons", "key": "lessons"}])
        assert made.status_code == 201, made.text
        lessons = made.json()["created"][0]["id"]
        hook = {"url": "http://127.0.0.1:9/hook", "events": ["points.changed"]}
        for path, body in (
            ("/admin/v1/achievements", [dict(TWO_LESSONS, metricId=lessons)]),
            ("/admin/v1/points", [xp_system(lessons)]),
            ("/admin/v1/leaderboards", [dict(TOP, metricId=lessons)]),
            ("/admin/v1/webhooks", [hook]),
        ):
            created = client.post(path, json=body)
            assert created.status_code == 201, created.text
            assert not created.json()["issues"], created.text
        settings = {"frequency": "daily", "metrics": [{"key": "lessons", "threshold": 1}]}
        assert client.patch("/admin/v1/streaks/settings", json=settings).status_code == 200
        for user, days in (("jon", (0,)), ("ivy", (0, 1))):
            for day in days:
                clock.set(DAY_ONE + timedelta(days=day))
                event = {"user": {"id": user, "tz": "UTC"}, "value": 2 + day}
                answer = client.post("/v1/metrics/lessons/event", json=event)
                assert answer.status_code == 201, answer.text
        yield client


@pytest.fixture(scope="module")
def browser(admin: httpx.Client) -> Iterator[Browser]:
    # (after the stack: Playwright's sync API holds an event loop in this thread, and the
    # stack's set-up runs its own)
    executable = os.environ.get("LAUREL_CHROMIUM") or shutil.which("chromium")
    if executable is None:  # CI installs it (.ci/run): a missing browser fails, never skips
        pytest.fail("no chromium on PATH (apt-get install chromium, or set LAUREL_CHROMIUM)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, laurel: LaurelProcesses) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    opened = context.new_page()
    opened.goto(f"{laurel.base_url}/dashboard")
    yield opened
    context.close()


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, key: str) -> None:
    page.fill("#key", key)
    page.click("#sign-in button[type=submit]")


def cells(page: Page, testid: str) -> list[list[str]]:
    rows = page.locator(f"[data-testid={testid}] tbody tr")
    return [
        [c.strip() for c in rows.nth(i).locator("td").all_inner_texts()]
        for i in range(rows.count())
    ]


def test_a_wrong_key_is_refused_with_a_clear_error(page: Page) -> None:
    assert page.is_visible("#sign-in")
    sign_in(page, "not-a-key")
    page.wait_for_selector("#error:not([hidden])")
    assert "refused" in page.inner_text("#error")
    assert "401" in page.inner_text("#error")
    assert page.is_visible("#sign-in")  # signed out again
    shot(page, "sign-in-refused")
    # the key lives in session storage only: never in the URL or a cookie
    assert "not-a-key" not in page.url
    assert page.context.cookies() == []


def test_every_page_shows_the_apis_numbers(
    page: Page, admin: httpx.Client, laurel: LaurelProcesses
) -> None:
    sign_in(page, laurel.admin_key)
    page.wait_for_selector("[data-testid=days] tbody tr")
    assert page.evaluate("window.sessionStorage.getItem('laurel.key')") == laurel.admin_key
    expected: Any = admin.get("/admin/v1/analytics/overview").json()
    shown = cells(page, "days")
    assert [row[0] for row in shown] == [d["date"] for d in reversed(expected["days"])]
    for row, day in zip(shown, reversed(expected["days"]), strict=True):
        assert (int(row[1]), int(row[2]), float(row[3])) == (
            day["activeUsers"],
            day["newUsers"],
            day["engagement"],
        )
    with page.expect_download() as downloaded:  # every table also downloads as CSV
        page.click("[data-testid=days-csv]")
    exported = Path(downloaded.value.path()).read_text().splitlines()
    assert exported[0] == "day,active users,new users,engagement,metrics"
    assert [line.split(",")[0] for line in exported[1:]] == [row[0] for row in shown]
    busiest = {row[0]: row for row in shown}[DAY_ONE.date().isoformat()]
    assert busiest[1:3] == ["2", "2"]  # Ivy and Jon, both new
    assert page.locator("[data-testid=chart] canvas").count() >= 1  # uPlot drew
    shot(page, "overview")

    page.click("nav a[href='#retention']")
    page.wait_for_selector("[data-testid=cohorts] tbody tr")
    retention: Any = admin.get("/admin/v1/analytics/retention").json()
    cohorts = cells(page, "cohorts")
    assert [(r[0], int(r[1])) for r in cohorts] == [
        (c["week"], c["users"]) for c in retention["cohorts"]
    ]
    day_one = cells(page, "day-retention")[0][0]
    assert day_one == f"{round(retention['day1'] * 1000) / 10:g}%"
    shot(page, "retention")

    page.click("nav a[href='#events']")
    page.wait_for_selector("[data-testid=event-filters]")
    page.fill("[data-testid=event-filters] input[name=userId]", "ivy")
    page.fill("[data-testid=event-filters] input[name=type]", "metric.event")
    page.click("[data-testid=event-filters] button")
    page.wait_for_selector("[data-testid=events] tbody tr")
    chosen: dict[str, str | int] = {"userId": "ivy", "type": "metric.event", "limit": 200}
    logged: Any = admin.get("/admin/v1/events", params=chosen).json()
    rows = cells(page, "events")
    assert [r[0] for r in rows] == [e["eventId"] for e in logged]
    assert {r[1] for r in rows} == {"ivy"}
    first = page.locator("[data-testid=events] details").first
    first.locator("summary").click()
    assert '"kind": "metric.event"' in first.locator("pre").inner_text()
    shot(page, "event-log")

    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.click("nav a[href='#overview']")
    page.wait_for_selector("[data-testid=days] tbody tr")
    shot(page, "overview-phone")


def test_the_other_pages_show_the_apis_numbers(
    page: Page, admin: httpx.Client, laurel: LaurelProcesses
) -> None:
    sign_in(page, laurel.admin_key)
    page.wait_for_selector("[data-testid=days] tbody tr")

    def visit(name: str, testid: str) -> list[list[str]]:
        page.click(f"nav a[href='#{name}']")
        page.wait_for_selector(f"[data-testid={testid}]")
        shot(page, name)
        return cells(page, testid)

    streaks: Any = admin.get("/admin/v1/analytics/streaks").json()
    assert visit("streaks", "streak-lengths") == [
        [str(s["length"]), str(s["users"])] for s in streaks["lengths"]
    ]
    achievements = visit("achievements", "achievements")
    (two,) = [a for a in admin.get("/v1/achievements").json() if a["key"] == "two"]
    assert [r[3] for r in achievements if r[1] == "two"] == [str(two["completions"])] == ["2"]
    rewards: Any = admin.get("/admin/v1/analytics/rewards").json()
    assert cells(page, "completions-per-day") == [
        [d["date"], key, str(n)]
        for d in reversed(rewards["days"])
        for key, n in d["achievements"].items()
    ]
    assert cells(page, "completions-per-day")[-1] == [DAY_ONE.date().isoformat(), "two", "2"]
    summary = admin.get("/v1/points/xp/summary").json()
    assert visit("points", "points-xp") == [
        [str(b["from"]), str(b["to"]), str(b["users"])] for b in summary
    ]
    assert cells(page, "awards-per-day") == [
        [d["date"], system, t["type"], str(t["awards"]), str(t["points"])]
        for d in reversed(rewards["days"])
        for system, triggers in d["points"].items()
        for t in triggers.values()
    ]
    assert cells(page, "awards-per-day")[-1][1:] == ["xp", "metric", "2", "40"]  # 2+2 lessons
    top = admin.get("/v1/leaderboards/top", params={"limit": 10}).json()["rankings"]
    assert visit("leaderboards", "board-top") == [
        [str(r["rank"]), r["userName"] or r["userId"], str(r["value"])] for r in top
    ]
    assert [r[1] for r in cells(page, "board-top")][:1] == ["ivy"]  # 2 + 3 lessons
    (hook,) = admin.get("/admin/v1/webhooks").json()
    deliveries = admin.get(f"/admin/v1/webhooks/{hook['id']}/deliveries").json()
    shown = visit("webhooks", "deliveries")
    assert [r[0] for r in shown] == [d["messageId"] for d in deliveries]
    assert deliveries  # points.changed for both users, waiting: no webhooks process runs

    page.click("nav a[href='#users']")
    page.fill("[data-testid=user-search] input", "ivy")
    page.click("[data-testid=user-search] button")
    page.wait_for_selector("[data-testid=user-commands] tbody tr")
    shot(page, "user")
    assert cells(page, "user-profile")[0][0] == "ivy"
    held = admin.get("/v1/users/ivy/points/xp").json()
    assert cells(page, "user-points") == [["xp", str(held["total"]), ""]]
    totals = {m["key"]: m["current"] for m in admin.get("/v1/users/ivy/metrics").json()}
    assert cells(page, "user-totals") == [["lessons", f"{totals['lessons']:g}"]]
    logged = admin.get("/admin/v1/events", params={"userId": "ivy", "limit": 200}).json()
    assert [r[0] for r in cells(page, "user-commands")] == [e["eventId"] for e in logged]
    kept = page.locator("[data-testid=user-calendar] .kept")
    assert kept.count() == 2  # Ivy's two days, drawn on the streak calendar
