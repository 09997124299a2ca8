"""The lifecycle messages' schedule (``emails.*_due``): worked examples of Trophy's timing, in
the users' zones, and what preferences and staleness hold back."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from projections.core.notices import (
    AchievementDue,
    NoticeKind,
    Notices,
    ReactivationDue,
    RecapDue,
    StreakReminderDue,
    Timing,
    achievement_due,
    next_due,
    on_activity,
    on_completion,
    release,
    reminder_due,
    wanted,
)
from projections.core.periods import Frequency
from projections.core.streaks import Pause, Streak, StreakPreferences, StreakSettings, rules_for

NY = ZoneInfo("America/New_York")
WEDNESDAY = date(2026, 6, 3)
ACHIEVEMENT = uuid.UUID(int=1)


def timing(
    streak: Streak | None = None,
    tz: str | None = "UTC",
    frequency: Frequency = "daily",
    days_off: frozenset[int] = frozenset(),
) -> Timing:
    settings = StreakSettings(frequency=frequency, metrics=(("lessons", 1.0),), days_off=days_off)
    rules = rules_for(settings, StreakPreferences())
    return Timing(tz, streak or Streak(frequency=frequency), rules)


def at(day: date, hour: int, minute: int = 0, tz: ZoneInfo | None = None) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz or UTC)


@pytest.mark.parametrize(
    ("completed", "due"),
    [
        (at(WEDNESDAY, 9), at(WEDNESDAY, 17)),  # before 5 pm: at 5 pm
        (at(WEDNESDAY, 18, 30), at(WEDNESDAY, 18, 30)),  # between 5 and 9 pm: at once
        (at(WEDNESDAY, 22), at(WEDNESDAY + timedelta(days=1), 17)),  # after 9 pm: 5 pm next day
    ],
)
def test_an_achievement_message_is_due_between_five_and_nine_pm_local(
    completed: datetime, due: datetime
) -> None:
    assert achievement_due(completed, "UTC") == due


def test_a_user_without_a_zone_gets_emails_in_eastern_time() -> None:
    assert achievement_due(at(WEDNESDAY, 12), None) == at(WEDNESDAY, 17, tz=NY)


def test_a_daily_reminder_is_due_four_hours_before_the_end_of_the_users_day() -> None:
    open_period = Streak(length=3, period=WEDNESDAY)
    assert reminder_due(timing(open_period, "Asia/Tokyo")) == (
        WEDNESDAY,
        at(WEDNESDAY, 20, tz=ZoneInfo("Asia/Tokyo")),
    )
    # a met period is safe: the next one is at risk
    met = Streak(length=3, period=WEDNESDAY, met=True)
    thursday = WEDNESDAY + timedelta(days=1)
    assert reminder_due(timing(met)) == (thursday, at(thursday, 20))
    # the next day is a day off (Thursday is 4): the one after it
    friday = thursday + timedelta(days=1)
    assert reminder_due(timing(met, days_off=frozenset({4}))) == (friday, at(friday, 20))


def test_weekly_and_monthly_reminders_fall_on_friday_morning_and_the_25th() -> None:
    monday = date(2026, 6, 1)
    weekly = Streak(frequency="weekly", length=2, period=monday)
    assert reminder_due(timing(weekly, frequency="weekly")) == (monday, at(date(2026, 6, 5), 9))
    monthly = Streak(frequency="monthly", length=2, period=monday)
    assert reminder_due(timing(monthly, frequency="monthly")) == (
        monday,
        at(date(2026, 6, 25), 9),
    )


def test_no_reminder_without_a_streak_or_in_a_paused_period() -> None:
    assert reminder_due(timing(Streak(length=0, period=WEDNESDAY))) is None
    pause = Pause(uuid.UUID(int=9), WEDNESDAY, WEDNESDAY)
    assert reminder_due(timing(Streak(length=2, period=WEDNESDAY, pauses=(pause,)))) is None


def test_the_open_period_is_reminded_once() -> None:
    t = timing(Streak(length=1, period=WEDNESDAY))
    notices, due = release(Notices(), t, at(WEDNESDAY, 20, 5))
    assert [type(n) for n in due] == [StreakReminderDue]
    assert notices.reminded == WEDNESDAY
    assert release(notices, t, at(WEDNESDAY, 21)) == (notices, ())
    assert next_due(notices, t) is None


def test_reactivation_follows_the_last_activity_and_restarts_with_the_next() -> None:
    t = timing()
    active = on_activity(Notices(), t, at(WEDNESDAY, 10))
    assert next_due(active, t) == at(WEDNESDAY + timedelta(days=3), 10)
    notices, due = release(active, t, at(WEDNESDAY + timedelta(days=3), 22))
    assert [(n.number, n.days) for n in due if isinstance(n, ReactivationDue)] == [(1, 3)]
    notices, due = release(notices, t, at(WEDNESDAY + timedelta(days=5), 10))
    assert [(n.number, n.days) for n in due if isinstance(n, ReactivationDue)] == [(2, 5)]
    assert notices.reactivations == 2
    again = on_activity(notices, t, at(WEDNESDAY + timedelta(days=6), 8))
    assert again.reactivations == 0


def test_a_message_more_than_a_day_overdue_is_dropped_but_counted() -> None:
    t = timing()
    active = on_activity(Notices(), t, at(WEDNESDAY, 10))
    notices, due = release(active, t, at(WEDNESDAY + timedelta(days=5), 11))
    # day 3 is two days late: dropped; day 5 an hour late: sent
    assert [n.number for n in due if isinstance(n, ReactivationDue)] == [2]
    notices, due = release(active, t, at(WEDNESDAY + timedelta(days=40), 10))
    assert [n for n in due if isinstance(n, ReactivationDue)] == []
    assert notices.reactivations == 5
    assert next_due(notices, t) is None


def test_a_week_of_activity_is_recapped_the_day_after_it_ends() -> None:
    t = timing()
    active = on_activity(Notices(), t, at(WEDNESDAY, 10))
    assert active.recap == date(2026, 6, 1)
    monday = date(2026, 6, 8)
    notices, due = release(active, t, at(monday, 9))
    (recap,) = [n for n in due if isinstance(n, RecapDue)]
    assert (recap.start, recap.end, recap.due) == (
        date(2026, 6, 1),
        date(2026, 6, 7),
        at(monday, 9),
    )
    assert notices.recap is None


def test_completions_wait_for_their_hour_in_order() -> None:
    t = timing()
    notices = on_completion(Notices(), ACHIEVEMENT, at(WEDNESDAY, 22), "UTC")
    notices = on_completion(notices, uuid.UUID(int=2), at(WEDNESDAY, 9), "UTC")
    assert next_due(notices, t) == at(WEDNESDAY, 17)
    notices, due = release(notices, t, at(WEDNESDAY + timedelta(days=1), 17))
    assert [n.achievement_id for n in due if isinstance(n, AchievementDue)] == [
        uuid.UUID(int=2),
        ACHIEVEMENT,
    ]
    assert notices.achievements == ()


def test_preferences_and_the_email_subscription_decide_who_is_told() -> None:
    kind: NoticeKind = "emails.streak_reminder_due"
    assert wanted(kind, True, {})  # never set: on
    assert wanted(kind, True, {"streak_reminder": ("email", "push")})
    assert not wanted(kind, True, {"streak_reminder": ("push",)})
    assert not wanted(kind, True, {"streak_reminder": ()})
    assert not wanted(kind, False, {})
    assert wanted("emails.recap_due", True, {"streak_reminder": ()})
