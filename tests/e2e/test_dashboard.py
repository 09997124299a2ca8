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


@pytest.fixture(scope="module")
def admin(laurel: LaurelProcesses, clock: ClockFile) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=laurel.base_url, headers=laurel.headers, timeout=30) as client:
        made = client.post("/admin/v1/metrics", json=[{"name": "Lessons", "key": "lessons"}])
        assert made.status_code == 201, made.text
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
    page.fill("[data-testid=event-filters] input", "ivy")
    page.click("[data-testid=event-filters] button")
    page.wait_for_selector("[data-testid=events] tbody tr")
    logged: Any = admin.get("/admin/v1/events", params={"userId": "ivy", "limit": 200}).json()
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
