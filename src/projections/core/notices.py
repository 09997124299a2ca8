"""What a user is due to hear about later than the moment's outcomes, and when: Trophy's
lifecycle messages (the ``emails.*_due`` webhooks, trophy-api.md §2.10) and ``points.changed``,
which Trophy sends at most once per user and points system every 15 minutes.

The rules are pure. Each user's :class:`Notices` travel with the user's state; every command
the user's partition folds first releases what fell due by its instant (:func:`release`), then
records what the command started (:func:`on_activity`, :func:`on_completion`). The scheduler
ticks the user at :func:`next_due`, so a message is decided by the fold of the log and a replay
decides the same ones.

Timing (Trophy's where it documents one, Laurel's choice where it does not):

- achievement: completed before 17:00 local, due at 17:00; from 17:00 to 21:00, due at once; later,
  17:00 the next day. Backdated completions are announced to no one.
- streak reminder: an active streak whose open period is not met yet, four hours before the end
  of the user's day (daily), Friday of the period at 09:00 (weekly), the 25th at 09:00
  (monthly), in the streak's zone; not on a day off or in a paused period.
- reactivation: 3, 5, 7, 14 and 30 days after the user's last metric event (messages 1 to 5).
- recap: for each week (starting on the streak settings' first weekday) the user was active
  in, on the first day after the week at 09:00 local.

- points.changed: a change with no window open is sent at once and opens a 15-minute window for
  its points system; changes inside the window accumulate and are sent together when it
  closes (opening the next one), carrying the total and level after the last of them.

Achievement and recap times are in the user's zone, Eastern Time for a user without one (as
Trophy's emails). A message more than :data:`STALE_AFTER` overdue when its user is next folded
(the pipeline was down) is dropped rather than sent late.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal, TypeAlias

from projections.core.periods import next_period, period_end, period_start, weekday
from projections.core.streaks import Streak, StreakRules
from projections.core.values import replace
from projections.core.zones import local_date, zone

EMAIL_ZONE = "America/New_York"
"""Trophy sends emails in Eastern Time to users without a zone."""
REACTIVATION_DAYS = (3, 5, 7, 14, 30)
"""Days of inactivity after which reactivation messages 1 to 5 are due."""
ACHIEVEMENT_FROM, ACHIEVEMENT_UNTIL = time(17), time(21)
REMINDER_BEFORE_END = timedelta(hours=4)
MORNING = time(9)
FRIDAY = 5
REMINDER_DAY_OF_MONTH = 25
STALE_AFTER = timedelta(days=1)
POINTS_EVERY = timedelta(minutes=15)
"""At most one ``points.changed`` per user and points system in this long."""
POINTS_AWARDS_KEPT = 100
"""A window keeps the ids of its last this many awards (``added`` counts them all)."""

NoticeKind: TypeAlias = Literal[
    "emails.achievement_due",
    "emails.recap_due",
    "emails.reactivation_due",
    "emails.streak_reminder_due",
]

PREFERENCE_OF: dict[NoticeKind, str] = {
    "emails.achievement_due": "achievement_completed",
    "emails.recap_due": "recap",
    "emails.reactivation_due": "reactivation",
    "emails.streak_reminder_due": "streak_reminder",
}
"""The notification preference (``PATCH /users/{id}/preferences``) that governs each kind."""


@dataclass(frozen=True, slots=True)
class AchievementDue:
    """An achievement message: which achievement, completed when, due when."""

    achievement_id: uuid.UUID
    achieved_at: datetime
    due: datetime
    kind: NoticeKind = "emails.achievement_due"


@dataclass(frozen=True, slots=True)
class RecapDue:
    """A recap of the local dates ``[start, end]``."""

    start: date
    end: date
    due: datetime
    kind: NoticeKind = "emails.recap_due"


@dataclass(frozen=True, slots=True)
class ReactivationDue:
    """Reactivation message ``number`` (1 to 5), ``days`` after the last activity."""

    number: int
    days: int
    due: datetime
    kind: NoticeKind = "emails.reactivation_due"


@dataclass(frozen=True, slots=True)
class StreakReminderDue:
    """The open streak period, starting ``period``, is at risk: the streak as it was then, with
    the rules in force (what the message shows)."""

    period: date
    due: datetime
    streak: Streak
    rules: StreakRules
    kind: NoticeKind = "emails.streak_reminder_due"


Notice: TypeAlias = AchievementDue | RecapDue | ReactivationDue | StreakReminderDue
"""A lifecycle email due."""


@dataclass(frozen=True, slots=True)
class PointsWindow:
    """A points system's window, opened by the ``points.changed`` sent at ``opened``; what
    changed since (``added``, the ``awards`` by id, the ``total`` and ``level`` after the last
    change, whether a level changed) waits for it to close."""

    system_id: uuid.UUID
    opened: datetime
    added: int = 0
    total: int = 0
    awards: tuple[uuid.UUID, ...] = ()
    level: uuid.UUID | None = None
    level_changed: bool = False

    @property
    def closes(self) -> datetime:
        """When the next ``points.changed`` may be sent."""
        return self.opened + POINTS_EVERY

    @property
    def pending(self) -> bool:
        """Whether a change waits for the window to close."""
        return bool(self.awards) or self.added != 0


@dataclass(frozen=True, slots=True)
class PointsChanged:
    """A ``points.changed`` to send, decided at ``due``: what changed in the system since the
    last one (``awards`` by id, oldest first), with the total and level after it."""

    system_id: uuid.UUID
    added: int
    total: int
    awards: tuple[uuid.UUID, ...]
    level: uuid.UUID | None
    level_changed: bool
    due: datetime
    kind: Literal["points.changed"] = "points.changed"


Due: TypeAlias = Notice | PointsChanged
"""What the fold releases for a user: a lifecycle email or a ``points.changed``."""


@dataclass(frozen=True, slots=True)
class Notices:
    """What one user is due to hear: pending achievement messages, the week awaiting its recap,
    the last activity and how many reactivation messages followed it, and the streak period
    already reminded."""

    achievements: tuple[AchievementDue, ...] = ()
    recap: date | None = None
    """The first day of the week the user was active in whose recap is still to come."""
    last_active: datetime | None = None
    reactivations: int = 0
    reminded: date | None = None
    points: tuple[PointsWindow, ...] = ()
    """The open ``points.changed`` windows, one per points system."""


@dataclass(frozen=True, slots=True)
class Timing:
    """What the schedule depends on besides the notices: the user's zone (``None``: none given)
    and streak, with the rules in force."""

    tz: str | None
    streak: Streak
    rules: StreakRules


def _at(day: date, clock: time, tz: str | None) -> datetime:
    return datetime.combine(day, clock, zone(tz))


def _email_zone(tz: str | None) -> str:
    return tz or EMAIL_ZONE


def achievement_due(at: datetime, tz: str | None) -> datetime:
    """When the message of an achievement completed at ``at`` is due."""
    email_tz = _email_zone(tz)
    local = at.astimezone(zone(email_tz))
    if local.time() < ACHIEVEMENT_FROM:
        return _at(local.date(), ACHIEVEMENT_FROM, email_tz)
    if local.time() < ACHIEVEMENT_UNTIL:
        return at
    return _at(local.date() + timedelta(days=1), ACHIEVEMENT_FROM, email_tz)


def recap_due(week: date, tz: str | None) -> datetime:
    """When the recap of the week starting ``week`` is due."""
    return _at(week + timedelta(days=7), MORNING, _email_zone(tz))


def reactivation_due(last_active: datetime, sent: int) -> datetime | None:
    """When the next reactivation message is due after ``sent`` of them (``None``: all sent)."""
    if sent >= len(REACTIVATION_DAYS):
        return None
    return last_active + timedelta(days=REACTIVATION_DAYS[sent])


def reminder_due(timing: Timing) -> tuple[date, datetime] | None:
    """The streak period at risk next and when its reminder is due: the open period if it is
    not met yet, otherwise the one after (skipping days off); ``None`` without an active
    streak, or when that period is a day off or paused."""
    streak, rules = timing.streak, timing.rules
    if not rules.enabled or streak.length <= 0 or streak.period is None:
        return None
    start = next_period(streak.period, streak.frequency) if streak.met else streak.period
    while streak.frequency == "daily" and weekday(start) in rules.days_off:
        start = next_period(start, "daily")
    end = period_end(start, streak.frequency)
    if any(p.overlaps(start, end) for p in streak.pauses):
        return None
    if streak.frequency == "daily":
        return start, _at(next_period(start, "daily"), time(), timing.tz) - REMINDER_BEFORE_END
    if streak.frequency == "weekly":
        friday = start + timedelta(days=(FRIDAY - weekday(start)) % 7)
        return start, _at(friday, MORNING, timing.tz)
    return start, _at(start.replace(day=REMINDER_DAY_OF_MONTH), MORNING, timing.tz)


def release(notices: Notices, timing: Timing, at: datetime) -> tuple[Notices, tuple[Notice, ...]]:
    """Everything due by ``at``, in the order it fell due, and the notices without it (the
    same object when nothing fell due). Messages overdue by more than :data:`STALE_AFTER` leave
    the notices but are not returned."""
    due: list[Notice] = []
    kept = tuple(a for a in notices.achievements if a.due > at)
    if len(kept) < len(notices.achievements):
        due += [a for a in notices.achievements if a.due <= at]
    recap = notices.recap
    # (a recap is due 7 days after its week's first local day: never before 6 UTC days on)
    if (
        recap is not None
        and (at.date() - recap).days >= 6
        and (when := recap_due(recap, timing.tz)) <= at
    ):
        due.append(RecapDue(recap, recap + timedelta(days=6), when))
        recap = None
    sent = notices.reactivations
    while notices.last_active is not None:
        when_next = reactivation_due(notices.last_active, sent)
        if when_next is None or when_next > at:
            break
        due.append(ReactivationDue(sent + 1, REACTIVATION_DAYS[sent], when_next))
        sent += 1
    reminded = notices.reminded
    # only the open period's reminder (``timing`` is advanced to ``at``): a met period's
    # successor is reminded once it opens
    streak = timing.streak
    if not streak.met and streak.period != reminded and (at_risk := reminder_due(timing)):
        period, remind_at = at_risk
        if period == streak.period and remind_at <= at:
            due.append(StreakReminderDue(period, remind_at, streak, timing.rules))
            reminded = period
    if not due:
        return notices, ()
    released = replace(
        notices, achievements=kept, recap=recap, reactivations=sent, reminded=reminded
    )
    fresh = tuple(n for n in sorted(due, key=lambda n: n.due) if at - n.due <= STALE_AFTER)
    return released, fresh


def on_activity(notices: Notices, timing: Timing, at: datetime) -> Notices:
    """After a metric event at ``at``: reactivation counts from it, and its week awaits a recap
    (call after :func:`release`, so a recap already due is out first)."""
    recap = notices.recap
    if recap is None:
        local = local_date(at, _email_zone(timing.tz))
        recap = period_start(local, "weekly", timing.rules.settings.week_start)
    return replace(notices, last_active=at, reactivations=0, recap=recap)


def on_completion(
    notices: Notices, achievement_id: uuid.UUID, at: datetime, tz: str | None
) -> Notices:
    """After an achievement completed at ``at`` (not backdated): its message is pending."""
    pending = AchievementDue(achievement_id, at, achievement_due(at, tz))
    return replace(notices, achievements=(*notices.achievements, pending))


def release_points(notices: Notices, at: datetime) -> tuple[Notices, tuple[PointsChanged, ...]]:
    """Close the windows over by ``at``: what waited in them is sent (at the window's close,
    opening the next window), and a window with nothing waiting is forgotten."""
    kept: list[PointsWindow] = []
    sent: list[PointsChanged] = []
    for window in notices.points:
        if window.closes > at:
            kept.append(window)
        elif window.pending:
            sent.append(_changed(window, window.closes))
            kept.append(PointsWindow(window.system_id, window.closes))
    if not sent and len(kept) == len(notices.points):
        return notices, ()
    return replace(notices, points=_closed_again(tuple(kept), at)), tuple(sent)


def _closed_again(windows: tuple[PointsWindow, ...], at: datetime) -> tuple[PointsWindow, ...]:
    # a window reopened at its close may itself be over by ``at`` (nothing waits in it)
    return tuple(w for w in windows if w.closes > at or w.pending)


def _changed(window: PointsWindow, due: datetime) -> PointsChanged:
    return PointsChanged(
        window.system_id,
        window.added,
        window.total,
        window.awards,
        window.level,
        window.level_changed,
        due,
    )


def on_points(notices: Notices, change: PointsWindow) -> tuple[Notices, PointsChanged | None]:
    """After a command changed a points system (``change``: what it added, at ``opened``):
    sent at once if no window is open for the system (opening one), otherwise added to the
    open window (call after :func:`release_points`)."""
    windows = notices.points
    for i, window in enumerate(windows):
        if window.system_id == change.system_id:
            grown = replace(
                window,
                added=window.added + change.added,
                total=change.total,
                awards=(*window.awards, *change.awards)[-POINTS_AWARDS_KEPT:],
                level=change.level,
                level_changed=window.level_changed or change.level_changed,
            )
            return replace(notices, points=(*windows[:i], grown, *windows[i + 1 :])), None
    opened = PointsWindow(change.system_id, change.opened)
    return replace(notices, points=(*windows, opened)), _changed(change, change.opened)


def next_due(notices: Notices, timing: Timing) -> datetime | None:
    """When the scheduler should next tick this user for a notice, or ``None``."""
    candidates = [a.due for a in notices.achievements]
    candidates += [w.closes for w in notices.points if w.pending]
    if notices.recap is not None:
        candidates.append(recap_due(notices.recap, timing.tz))
    if notices.last_active is not None:
        reactivation = reactivation_due(notices.last_active, notices.reactivations)
        if reactivation is not None:
            candidates.append(reactivation)
    at_risk = reminder_due(timing)
    if at_risk is not None and at_risk[0] != notices.reminded:
        candidates.append(at_risk[1])
    return min(candidates, default=None)


def wanted(kind: NoticeKind, subscribed: bool, channels: Mapping[str, tuple[str, ...]]) -> bool:
    """Whether the user takes ``kind`` by email: subscribed to emails, and the type's
    preference either never set or including ``email``."""
    chosen = channels.get(PREFERENCE_OF[kind])
    return subscribed and (chosen is None or "email" in chosen)
