"""Webhooks end to end: the real pipeline decides (events, scheduler ticks on a clock file), the
webhooks process delivers to a real HTTP receiver on loopback, signed, retried, in order, and
a SIGKILL or a replay neither loses nor repeats anything."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from standardwebhooks.webhooks import Webhook

from projections.store.webhook_messages import NOTICE_TYPES, TROPHY_TYPES
from tests.support.clock import ClockFile, running_on
from tests.support.infra import Namespace
from tests.support.processes import LaurelProcesses
from tests.support.receiver import HANG, Received, Receiver, receiving
from tests.support.reference import active_query
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

DAY_ONE = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
TIMEOUT_S = 1.5
ENV = {
    "LAUREL_WEBHOOK_ALLOWED_CIDRS": "127.0.0.0/8",
    "LAUREL_WEBHOOK_RETRY_SCHEDULE": "0.3,0.3,0.3",
    "LAUREL_WEBHOOK_TIMEOUT_S": str(TIMEOUT_S),
    "LAUREL_RANK_CHANGE_EVERY_S": "0",  # every rank change written (and announced) at once
}


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with receiving() as found:
        yield found


@pytest.fixture(scope="module")
def clock(tmp_path_factory: pytest.TempPathFactory) -> ClockFile:
    return ClockFile(tmp_path_factory.mktemp("clock") / "now", DAY_ONE)


@pytest.fixture(scope="module")
def laurel(module_namespace: Namespace, clock: ClockFile) -> Iterator[LaurelProcesses]:
    with running_on(module_namespace, clock, ENV, webhooks=True) as procs:
        yield procs


@pytest.fixture(scope="module")
def admin(laurel: LaurelProcesses) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=laurel.base_url, headers=laurel.headers, timeout=30) as client:
        metric = client.post("/admin/v1/metrics", json=[{"name": "Lessons", "key": "lessons"}])
        assert metric.status_code == 201, metric.text
        lessons = metric.json()["created"][0]["id"]
        settings = client.patch(
            "/admin/v1/streaks/settings",
            json={
                "frequency": "daily",
                "metrics": [{"key": "lessons", "threshold": 1}],
                "freezes": {"startCount": 1, "maxCount": 3},
            },
        )
        assert settings.status_code == 200, settings.text
        made = client.post(
            "/admin/v1/achievements",
            json=[
                {
                    "name": "Two lessons",
                    "key": "two-lessons",
                    "trigger": "metric",
                    "status": "active",
                    "metricId": lessons,
                    "metricValue": 2,
                }
            ],
        )
        assert made.status_code == 201, made.text
        xp = client.post(
            "/admin/v1/points",
            json=[
                {
                    "name": "XP",
                    "key": "xp",
                    "triggers": [
                        {
                            "type": "metric",
                            "points": 10,
                            "status": "active",
                            "metricId": lessons,
                            "metricThreshold": 1,
                        }
                    ],
                    "levels": [{"name": "Bronze", "key": "bronze", "points": 20}],
                }
            ],
        )
        assert xp.status_code == 201, xp.text
        assert not xp.json()["issues"], xp.text
        yield client


def endpoint(admin: httpx.Client, url: str, events: list[str] | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"url": url} | ({"events": events} if events else {})
    created = admin.post("/admin/v1/webhooks", json=[item])
    assert created.status_code == 201, created.text
    return dict(created.json()["created"][0])


def lesson(admin: httpx.Client, user: str, name: str | None = None) -> dict[str, Any]:
    who = {"id": user, "tz": "UTC"} | ({"name": name} if name else {})
    answer = admin.post("/v1/metrics/lessons/event", json={"user": who, "value": 1})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def of_user(receiver: Receiver, path: str, user: str) -> list[dict[str, Any]]:
    return [r.json for r in receiver.at(path) if r.json.get("user", {}).get("id") == user]


def deliveries(admin: httpx.Client, endpoint_id: str, **query: str) -> list[dict[str, Any]]:
    found = admin.get(f"/admin/v1/webhooks/{endpoint_id}/deliveries", params=query)
    assert found.status_code == 200, found.text
    return list(found.json())


def trophy_signature(secret: str, body: bytes) -> str:
    """Trophy's X-Trophy-Signature, computed independently of Laurel's code."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def test_every_decided_type_arrives_signed_with_trophys_payload(
    admin: httpx.Client, receiver: Receiver, clock: ClockFile
) -> None:
    # every type but the lifecycle emails (their schedule has its own test below)
    hook = endpoint(admin, receiver.on("/all"), [t for t in TROPHY_TYPES if t not in NOTICE_TYPES])
    lesson(admin, "ada")
    lesson(admin, "ada")  # the achievement, 20 points: Bronze
    clock.set(DAY_ONE + timedelta(days=1))
    lesson(admin, "ada")  # extended
    clock.set(DAY_ONE + timedelta(days=3))  # day 3 missed: the freeze is used
    receiver.wait(
        lambda: "streak.freeze_consumed" in {m["type"] for m in of_user(receiver, "/all", "ada")},
        60,
        "the scheduler's freeze_consumed",
    )
    clock.set(DAY_ONE + timedelta(days=5))  # day 4 missed too: lost
    receiver.wait(
        lambda: "streak.lost" in {m["type"] for m in of_user(receiver, "/all", "ada")},
        60,
        "the scheduler's streak.lost",
    )
    got = of_user(receiver, "/all", "ada")
    by_type: dict[str, list[dict[str, Any]]] = {}
    for message in got:
        by_type.setdefault(message["type"], []).append(message)
    assert set(by_type) == {
        "streak.started",
        "streak.extended",
        "streak.lost",
        "streak.freeze_consumed",
        "streak.freeze_earned",
        "achievement.completed",
        "points.changed",
        "points.level_changed",
    }
    user = by_type["streak.started"][0]["user"]
    assert (user["id"], user["tz"], user["subscribeToEmails"]) == ("ada", "UTC", True)
    assert by_type["streak.started"][0]["streak"]["length"] == 1
    # as the event answer's ``extended``, the first day both starts and extends the streak
    assert [m["streak"]["length"] for m in by_type["streak.extended"]] == [1, 2]
    assert by_type["streak.freeze_consumed"][0] | {"user": None} == {
        "id": by_type["streak.freeze_consumed"][0]["id"],
        "type": "streak.freeze_consumed",
        "user": None,
        "consumed": 1,
        "freezes": 0,
    }
    assert by_type["streak.lost"][0]["length"] == 2
    achievement = by_type["achievement.completed"][0]["achievement"]
    assert (achievement["key"], achievement["name"]) == ("two-lessons", "Two lessons")
    assert "achievedAt" in achievement
    assert [m["points"]["total"] for m in by_type["points.changed"]] == [10, 20, 30]
    assert by_type["points.changed"][0]["points"]["added"] == 10
    assert by_type["points.changed"][0]["points"]["awards"][0]["trigger"]["points"] == 10
    level = by_type["points.level_changed"][0]
    assert (level["previousLevel"], level["newLevel"]["key"]) == (None, "bronze")
    assert (level["points"]["key"], level["points"]["total"]) == ("xp", 20)

    for request in receiver.at("/all"):
        assert request.json["id"] == request.headers["webhook-id"]
        Webhook(hook["secret"]).verify(request.body, request.headers)  # raises if wrong
        assert request.headers["x-trophy-signature"] == trophy_signature(
            hook["secret"], request.body
        )
    assert len({r.id for r in receiver.at("/all")}) == len(receiver.at("/all"))


def test_a_failing_receiver_gets_the_same_id_until_it_answers_and_order_holds(
    admin: httpx.Client, receiver: Receiver, laurel: LaurelProcesses
) -> None:
    url = receiver.on("/flaky", 500, 500)
    hook = endpoint(admin, url, ["points.changed", "points.level_changed", "achievement.completed"])
    for _ in range(2):
        lesson(admin, "olga")
    receiver.wait(lambda: len(of_user(receiver, "/flaky", "olga")) >= 5, 60, "five arrivals")
    arrivals = of_user(receiver, "/flaky", "olga")
    # 500, 500, 200 for the first; the later ones waited for it, then came in order (the
    # second lesson's points.changed waits for its 15-minute window)
    assert [m["type"] for m in arrivals] == [
        *["points.changed"] * 3,
        "achievement.completed",
        "points.level_changed",
    ]
    assert len({m["id"] for m in arrivals[:3]}) == 1
    log = {d["messageId"]: d for d in deliveries(admin, hook["id"])}
    first = log[arrivals[0]["id"]]
    assert (first["state"], first["attempts"], first["lastStatusCode"]) == ("delivered", 3, 200)
    # each failure was recorded and retried on the schedule, not left to the lease running out
    assert "Traceback" not in laurel.webhooks_log()


def test_a_receiver_that_hangs_past_the_timeout_is_retried(
    admin: httpx.Client, receiver: Receiver
) -> None:
    hook = endpoint(admin, receiver.on("/slow", HANG), ["points.changed"])
    lesson(admin, "hal")
    receiver.wait(lambda: len(of_user(receiver, "/slow", "hal")) >= 2, 60, "the retry")
    first, second = of_user(receiver, "/slow", "hal")[:2]
    assert first["id"] == second["id"]

    def delivered() -> list[dict[str, Any]]:
        return deliveries(admin, hook["id"], state="delivered")

    wait_for(lambda: len(delivered()) == 1, 30, "the retry recorded")
    assert delivered()[0]["attempts"] == 2


def test_410_gone_disables_the_endpoint(admin: httpx.Client, receiver: Receiver) -> None:
    hook = endpoint(admin, receiver.on("/gone", 410), ["points.changed"])
    lesson(admin, "gus")

    def status() -> dict[str, Any]:
        return dict(admin.get(f"/admin/v1/webhooks/{hook['id']}").json())

    wait_for(lambda: status()["status"] == "disabled", 60, "the endpoint disabled")
    assert "410" in status()["disabledReason"]
    assert [d["state"] for d in deliveries(admin, hook["id"])] == ["failed"]


def test_sigkill_of_the_webhooks_process_mid_delivery_loses_nothing(
    admin: httpx.Client, receiver: Receiver, laurel: LaurelProcesses
) -> None:
    users = [f"kim{i}" for i in range(4)]
    endpoint(admin, receiver.on("/held", *[HANG] * len(users)), ["points.changed"])
    for user in users:
        lesson(admin, user)
    receiver.wait(lambda: len(receiver.at("/held")) >= len(users), 60, "every delivery in flight")
    laurel.kill_webhooks()
    lesson(admin, "kim-late")  # decided while no webhooks process runs
    laurel.start_webhooks()
    everyone = [*users, "kim-late"]
    receiver.wait(
        lambda: all(
            len(of_user(receiver, "/held", u)) >= (2 if u in users else 1) for u in everyone
        ),
        60,
        "every message again after the lease ran out",
    )
    for user in users:
        assert len({m["id"] for m in of_user(receiver, "/held", user)}) == 1


def test_the_webhooks_process_outlives_its_database_sessions_cut(
    admin: httpx.Client, receiver: Receiver, laurel: LaurelProcesses
) -> None:
    """A PostgreSQL restart cuts every session; the webhooks process backs off, reconnects and
    delivers what was decided meanwhile, instead of exiting."""
    url = receiver.on("/outlived")
    endpoint(admin, url, ["points.changed"])
    assert laurel.cut_webhooks_database_sessions() >= 1
    lesson(admin, "ola")
    receiver.wait(
        lambda: bool(of_user(receiver, "/outlived", "ola")), 60, "the message after the cut"
    )
    assert laurel.webhooks_running
    # Whichever statement comes next meets the cut: the claim loop backs off, or a delivery's
    # record fails and its lease brings the message again (the pool hands out either session).
    log = laurel.webhooks_log()
    assert "the database is unavailable" in log or "recording delivery" in log, log[-2000:]


def test_boosts_and_runs_are_announced_when_trophy_announces_them(
    admin: httpx.Client, receiver: Receiver, clock: ClockFile
) -> None:
    clock.set(clock.now() + timedelta(minutes=1))  # after the earlier tests' events
    today = clock.now().date()  # at 12:00 UTC
    tomorrow = (today + timedelta(days=1)).isoformat()
    endpoint(
        admin,
        receiver.on("/timed"),
        ["points.boost_started", "points.boost_finished", "leaderboard.started"],
    )
    (xp,) = [p for p in admin.get("/admin/v1/points").json() if p["key"] == "xp"]
    boosted = admin.post(
        f"/admin/v1/points/{xp['id']}/boosts",
        json=[{"name": "Double day", "start": tomorrow, "end": tomorrow, "multiplier": 2}],
    )
    assert boosted.status_code == 201, boosted.text
    (metric,) = [m for m in admin.get("/admin/v1/metrics").json() if m["key"] == "lessons"]
    board = {
        "name": "Tomorrow only",
        "key": "tomorrow",
        "rankBy": "metric",
        "metricId": metric["id"],
        "status": "scheduled",
        "start": tomorrow,
        "end": tomorrow,
    }
    made = admin.post("/admin/v1/leaderboards", json=[board])
    assert made.status_code == 201, made.text

    def types() -> list[str]:
        return [r.json["type"] for r in receiver.at("/timed")]

    # both were due at 10:00 UTC today (the day before they start): sent at the next round
    receiver.wait(lambda: len(types()) == 2, 60, "the boost and the run announced")
    assert sorted(types()) == ["leaderboard.started", "points.boost_started"]
    started = {r.json["type"]: r.json for r in receiver.at("/timed")}
    assert started["points.boost_started"]["timestamp"] == f"{today.isoformat()}T10:00:00Z"
    boost = started["points.boost_started"]["boost"]
    assert (boost["name"], boost["status"], boost["pointsSystemKey"]) == (
        "Double day",
        "active",
        "xp",
    )
    run = started["leaderboard.started"]["leaderboard"]
    assert (run["key"], run["runStart"], run["rankings"]) == ("tomorrow", tomorrow, [])

    clock.set(datetime.combine(today + timedelta(days=2), time(13, 30), UTC))
    receiver.wait(lambda: len(types()) == 3, 60, "the boost announced finished")
    assert types()[-1] == "points.boost_finished"
    assert receiver.at("/timed")[-1].json["boost"]["status"] == "finished"
    assert len({r.id for r in receiver.at("/timed")}) == 3  # each sent once, round after round


def test_a_participant_passed_hears_of_their_new_rank(
    admin: httpx.Client, receiver: Receiver, clock: ClockFile, laurel: LaurelProcesses
) -> None:
    clock.set(clock.now() + timedelta(minutes=1))  # after the earlier tests' events
    (metric,) = [m for m in admin.get("/admin/v1/metrics").json() if m["key"] == "lessons"]
    board = {
        "name": "Ranks",
        "key": "ranks",
        "rankBy": "metric",
        "metricId": metric["id"],
        "status": "active",
        "start": clock.now().date().isoformat(),
    }
    made = admin.post("/admin/v1/leaderboards", json=[board])
    assert made.status_code == 201, made.text
    board_id = made.json()["created"][0]["id"]
    endpoint(admin, receiver.on("/ranks"), ["leaderboard.rank_changed"])
    endpoint(admin, receiver.on("/changed"), ["leaderboard.changed"])

    def changed_messages() -> list[Any]:
        with psycopg.connect(laurel.ns.database_url) as conn:
            rows = conn.execute(
                "SELECT body FROM laurel.webhook_messages WHERE type = 'leaderboard.changed' "
                "AND body->'leaderboard'->>'key' = 'ranks'"
            ).fetchall()
        return [row[0] for row in rows]

    def ranks() -> dict[str, int]:
        rows = active_query(
            laurel.ns.database_url,
            "SELECT user_id, rank FROM leaderboard_ranks "
            f"WHERE leaderboard_id = '{board_id}' AND user_id IN ('ann', 'bea')",
        )
        return {user: rank for user, rank in rows}

    lesson(admin, "ann", "Ann")
    wait_for(lambda: ranks() == {"ann": 1}, 60, "ann's first rank")  # a first rank: not sent
    assert changed_messages() == []  # (stored in the same transaction as the rank)
    lesson(admin, "bea")
    lesson(admin, "bea")  # bea passes ann
    wait_for(lambda: ranks() == {"ann": 2, "bea": 1}, 60, "the new ranks")
    receiver.wait(lambda: len(receiver.at("/ranks")) >= 1, 60, "ann's rank change")
    mine = [r.json for r in receiver.at("/ranks") if r.json["leaderboard"]["key"] == "ranks"]
    assert [(m["user"]["id"], m["user"]["name"]) for m in mine] == [("ann", "Ann")]
    moved = mine[0]["leaderboard"]
    assert (moved["previousRank"], moved["rank"]) == (1, 2)
    assert (moved["previousValue"], moved["value"]) == (1, 1)
    receiver.wait(lambda: len(receiver.at("/changed")) >= 1, 60, "the board's change")
    board_changed = [
        r.json["leaderboard"]
        for r in receiver.at("/changed")
        if r.json["leaderboard"]["key"] == "ranks"
    ]
    assert [(r["userId"], r["rank"], r["value"]) for r in board_changed[0]["rankings"]] == [
        ("bea", 1, 2),
        ("ann", 2, 1),
    ]


def test_a_finished_run_announces_its_top_ten(
    admin: httpx.Client, receiver: Receiver, clock: ClockFile
) -> None:
    # the clock file stands still: move it, so that the board is created after the earlier
    # tests' events (at their instant, a replay would count them on the board too)
    clock.set(clock.now() + timedelta(minutes=1))
    today = clock.now().date()
    (metric,) = [m for m in admin.get("/admin/v1/metrics").json() if m["key"] == "lessons"]
    board = {
        "name": "Daily lessons",
        "key": "daily-lessons",
        "rankBy": "metric",
        "metricId": metric["id"],
        "status": "active",
        "start": today.isoformat(),
        "runUnit": "day",
        "runInterval": 1,
    }
    made = admin.post("/admin/v1/leaderboards", json=[board])
    assert made.status_code == 201, made.text
    endpoint(admin, receiver.on("/finished"), ["leaderboard.finished"])
    lesson(admin, "lena", "Lena")
    lesson(admin, "lena", "Lena")
    lesson(admin, "leo", "Leo")
    clock.set(clock.now() + timedelta(days=2))  # the run is over everywhere: the ranker finalises

    def finished_runs() -> list[Received]:
        return [
            r for r in receiver.at("/finished") if r.json["leaderboard"]["key"] == "daily-lessons"
        ]

    receiver.wait(lambda: len(finished_runs()) == 1, 60, "leaderboard.finished")
    (finished,) = finished_runs()
    leaderboard = finished.json["leaderboard"]
    assert (leaderboard["key"], leaderboard["status"]) == ("daily-lessons", "finished")
    assert (leaderboard["runStart"], leaderboard["runEnd"]) == (today.isoformat(),) * 2
    assert [
        (r["userId"], r["userName"], r["rank"], r["value"]) for r in leaderboard["rankings"]
    ] == [
        ("lena", "Lena", 1, 2),
        ("leo", "Leo", 2, 1),
    ]
    assert finished.json["id"] == finished.id


def test_laurel_replay_sends_nothing_again(
    admin: httpx.Client, receiver: Receiver, laurel: LaurelProcesses, clock: ClockFile
) -> None:
    endpoint(admin, receiver.on("/after-replay"), ["points.changed"])
    lesson(admin, "rita")
    receiver.wait(lambda: len(receiver.at("/after-replay")) == 1, 60, "rita's message")
    with psycopg.connect(laurel.ns.database_url) as conn:
        before = conn.execute("SELECT count(*) FROM laurel.webhook_messages").fetchone()
    replay = laurel.replay()
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "switched reads to" in replay.stdout
    with psycopg.connect(laurel.ns.database_url) as conn:
        after = conn.execute("SELECT count(*) FROM laurel.webhook_messages").fetchone()
    assert after == before
    clock.set(clock.now() + timedelta(minutes=16))  # past rita's points.changed window
    lesson(admin, "rita")  # the live processor, now on the new schema, still announces
    receiver.wait(lambda: len(receiver.at("/after-replay")) == 2, 60, "the post-replay message")
    totals = [r.json["points"]["total"] for r in receiver.at("/after-replay")]
    assert totals == [10, 20]


def z(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_lifecycle_emails_and_throttled_points_fall_due_on_trophys_schedule(
    admin: httpx.Client, receiver: Receiver, clock: ClockFile, laurel: LaurelProcesses
) -> None:
    start = clock.now().date() + timedelta(days=2)
    wednesday = start + timedelta(days=(2 - start.weekday()) % 7)  # a week's Monday is 2 days back
    base = datetime.combine(wednesday, time(14), UTC)
    endpoint(admin, receiver.on("/emails"), [*NOTICE_TYPES, "points.changed"])
    clock.set(base)
    lesson(admin, "eve")
    lesson(admin, "eve")  # the achievement, at 14:00: its message is due at 17:00
    for _ in range(2):  # fay completes it too, but takes no emails
        fay = {"id": "fay", "tz": "UTC", "subscribeToEmails": False}
        answer = admin.post("/v1/metrics/lessons/event", json={"user": fay, "value": 1})
        assert answer.status_code == 201, answer.text

    def of_eve(kind: str) -> list[dict[str, Any]]:
        return [m for m in of_user(receiver, "/emails", "eve") if m["type"] == kind]

    def fay_pending() -> list[Any]:
        rows = active_query(
            laurel.ns.database_url, "SELECT notices FROM users WHERE user_id = 'fay'"
        )
        return list(rows[0][0]["achievements"])

    assert len(fay_pending()) == 1
    clock.set(base + timedelta(hours=3, minutes=1))
    receiver.wait(lambda: bool(of_eve("emails.achievement_due")), 60, "the achievement message")
    (achievement,) = of_eve("emails.achievement_due")
    assert achievement["timestamp"] == z(base.replace(hour=17))
    assert achievement["achievement"]["key"] == "two-lessons"
    assert achievement["achievement"]["achievedAt"] == z(base)
    # the second lesson's points waited for the 15-minute window; the tick that released the
    # achievement message (decided before it, so delivered before it) carried them too
    points = [m["points"] for m in of_eve("points.changed")]
    assert [(p["added"], p["total"], len(p["awards"])) for p in points] == [
        (10, 10, 1),
        (10, 20, 1),
    ]
    wait_for(lambda: fay_pending() == [], 60, "fay's achievement message released")
    with psycopg.connect(laurel.ns.database_url) as conn:
        sent_to_fay = conn.execute(
            "SELECT count(*) FROM laurel.webhook_messages "
            "WHERE user_id = 'fay' AND type LIKE 'emails.%'"
        ).fetchone()
    assert sent_to_fay == (0,)  # released, but not sent: fay does not take emails

    # the next day, unmet at 20:00 (four hours before the end of eve's day): at risk
    clock.set(base + timedelta(days=1, hours=6, minutes=1))
    receiver.wait(lambda: bool(of_eve("emails.streak_reminder_due")), 60, "the streak reminder")
    (reminder,) = of_eve("emails.streak_reminder_due")
    assert reminder["timestamp"] == z(base + timedelta(days=1, hours=6))
    streak = reminder["streak"]
    assert (streak["length"], streak["periodStart"]) == (
        1,
        (wednesday + timedelta(days=1)).isoformat(),
    )
    assert [h["length"] for h in streak["streakHistory"]] == [0, 0, 0, 0, 0, 1, 1]
    assert streak["pauses"] == []

    # three days after the last lesson: the first reactivation message
    clock.set(base + timedelta(days=3, minutes=1))
    receiver.wait(lambda: bool(of_eve("emails.reactivation_due")), 60, "the reactivation message")
    (back,) = of_eve("emails.reactivation_due")
    assert back["reactivation"] == {"messageNumber": 1, "daysSinceLastActive": 3}
    assert back["timestamp"] == z(base + timedelta(days=3))

    # the week eve was active in is recapped the following Monday at 09:00
    monday = wednesday + timedelta(days=5)
    clock.set(datetime.combine(monday, time(9, 1), UTC))
    receiver.wait(lambda: bool(of_eve("emails.recap_due")), 60, "the recap")
    (recap,) = of_eve("emails.recap_due")
    assert recap["recap"] == {
        "periodStart": (monday - timedelta(days=7)).isoformat(),
        "periodEnd": (monday - timedelta(days=1)).isoformat(),
    }
    assert recap["timestamp"] == z(datetime.combine(monday, time(9), UTC))
    assert recap["user"]["id"] == "eve"
    ids = [m["id"] for m in of_user(receiver, "/emails", "eve")]
    assert len(ids) == len(set(ids))
