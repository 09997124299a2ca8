"""The webhook messages a batch decided, in Trophy's payloads (``user`` is the full ``User``),
each with an id derived from its cause: the command and the message's place among what that
command announced. A replay folds the same commands to the same messages and the same ids.

Rendered only for tenants with an endpoint subscribed to the type (``wanted``): a batch of a
tenant without webhooks renders nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from projections.core.announcements import (
    boost_finished_at,
    boost_started_at,
    run_started_at,
    runs_starting,
)
from projections.core.fold import BatchResult, Decision
from projections.core.leaderboards import Leaderboard, Run
from projections.core.model import ConfigHistory, UserKey
from projections.core.notices import (
    AchievementDue,
    Notice,
    PointsChanged,
    ReactivationDue,
    RecapDue,
    StreakReminderDue,
)
from projections.core.outcomes import AchievementCompleted, MetricEventRecorded, StreakChanged
from projections.core.points import PointsBoost, PointsSystem
from projections.core.rewards import PointsChange
from projections.core.streaks import PeriodRecord, StreakView, Transition, history_start
from projections.store.codecs import transition_json
from projections.store.trophy_json import (
    Names,
    achievements_json,
    award_bodies,
    board_json,
    iso,
    level_json,
    points_system_json,
    streak_json,
    streak_response_json,
    user_json,
    whole,
)

TROPHY_TYPES = (
    "achievement.completed",
    "streak.started",
    "streak.extended",
    "streak.lost",
    "streak.freeze_consumed",
    "streak.freeze_earned",
    "points.changed",
    "points.level_changed",
    "points.boost_started",
    "points.boost_finished",
    "leaderboard.started",
    "leaderboard.changed",
    "leaderboard.rank_changed",
    "leaderboard.finished",
    "emails.recap_due",
    "emails.reactivation_due",
    "emails.streak_reminder_due",
    "emails.achievement_due",
)
"""Trophy's 18 types, in its documentation's order: an endpoint may subscribe to any of them."""

TIMED_TYPES = ("points.boost_started", "points.boost_finished", "leaderboard.started")
"""The types the clock causes, announced by :func:`timed_messages` (which types are sent at
all: the README's webhooks section)."""

PING = "webhook.test"
"""Laurel's own type of the signed ping ``POST /admin/v1/webhooks/{id}/test`` sends."""

_NAMESPACE = uuid.UUID("6b3f4f5e-7a4c-4f0e-9a57-1c0f5b1e9d21")

T = TypeVar("T")

Wanted = Callable[[str, str], bool]
"""Whether tenant (first) has an endpoint subscribed to a type (second)."""


@dataclass(frozen=True, slots=True)
class Message:
    """A webhook message: its id, whose it is, its type, when it was decided and its body."""

    id: str
    tenant: str
    user_id: str | None
    type: str
    created: datetime
    body: dict[str, Any]


def message_id(cause: str, seq: int) -> str:
    """The id of the ``seq``-th message of ``cause`` (``msg_`` and 32 hex digits)."""
    return "msg_" + uuid.uuid5(_NAMESPACE, f"{cause}/{seq}").hex


NOTICE_TYPES = (
    "emails.recap_due",
    "emails.reactivation_due",
    "emails.streak_reminder_due",
    "emails.achievement_due",
)
"""The lifecycle types: decided by the fold when the scheduler ticks a user."""

REMINDER_HISTORY = 7
"""Periods of history in a streak reminder's ``StreakResponse`` (the API's default)."""

Histories = Mapping[UserKey, Mapping[date, PeriodRecord]]
"""Each user's stored closed streak periods by first day, for streak reminders."""


@dataclass(frozen=True)
class StoredNeeds:
    """What a batch's messages show from earlier batches: for each user with a streak reminder
    the frequency and first day of the history it shows, and the (tenant, id) of awards that
    closing ``points.changed`` windows list but the batch did not give."""

    histories: Mapping[UserKey, tuple[str, date]]
    awards: Sequence[tuple[str, uuid.UUID]]


@dataclass(frozen=True)
class Shown:
    """What :func:`batch_messages` shows beyond the batch's own values: the stored histories of
    :class:`StoredNeeds`, and award bodies by id (the batch's and the earlier ones needed)."""

    histories: Histories
    awards: Mapping[uuid.UUID, Mapping[str, Any]]


def stored_needs(result: BatchResult) -> StoredNeeds:
    """What :class:`Shown` must hold, beyond the batch, for ``result``'s messages."""
    given = {record.award.id for _, _, record in result.rewards.awards}
    histories: dict[UserKey, tuple[str, date]] = {}
    awards: list[tuple[str, uuid.UUID]] = []
    for key, _, due in result.notices:
        if isinstance(due, StreakReminderDue):
            histories[key] = (due.streak.frequency, history_start(due.streak, REMINDER_HISTORY))
        elif isinstance(due, PointsChanged):
            awards += [(key[0], a) for a in due.awards if a not in given]
    return StoredNeeds(histories, awards)


def batch_messages(
    result: BatchResult, config: ConfigHistory, wanted: Wanted, shown: Shown | None = None
) -> list[Message]:
    """What each decision of ``result`` announces, in decision order. ``shown`` holds what the
    messages show from earlier batches (:func:`stored_needs`); without it, only the batch's own
    awards are listed."""
    if shown is None:
        shown = Shown({}, award_bodies(result.rewards.awards, config))
    transitions = _by_command(result.streaks.transitions)
    released = _by_command(result.notices)
    closed: dict[UserKey, dict[date, PeriodRecord]] = {}
    for key, record in result.streaks.periods:
        closed.setdefault(key, {})[record.start] = record
    completions = _by_command(
        (key, cid, c) for key, cid, c in result.rewards.completions if not c.backdated
    )
    messages: list[Message] = []
    for decision in result.decisions:
        command = decision.command
        key = (command.tenant, command.user_id)
        state = result.users.get(key)
        profile = state.profile if state is not None else None
        user = user_json(command.user_id, profile) if profile else {"id": command.user_id}
        names = Names(config, command.tenant, command.received_at)
        due = released.get(command.id, [])
        history = {**shown.histories.get(key, {}), **closed.get(key, {})}
        typed = [
            *(_transition(t, _streak_of(decision)) for t in transitions.get(command.id, ())),
            *(
                ("achievement.completed", {"achievement": achievements_json([c], names)[0]})
                for c in completions.get(command.id, ())
            ),
            *(_points_changed(p, names, shown) for p in due if isinstance(p, PointsChanged)),
            *_level_changes(_points_of(decision)),
            *(_notice(n, names, history) for n in due if not isinstance(n, PointsChanged)),
        ]
        cause = f"{command.tenant}/{command.id}"
        for seq, (kind, fields) in enumerate(typed):
            if wanted(command.tenant, kind):
                id = message_id(cause, seq)
                body = {"id": id, "type": kind, "user": user, **fields}
                messages.append(
                    Message(id, command.tenant, command.user_id, kind, command.received_at, body)
                )
    return messages


def _points_changed(
    changed: PointsChanged, names: Names, shown: Shown
) -> tuple[str, dict[str, Any]]:
    """Trophy's ``MetricEventPointsResponse`` of what a window carried: ``level`` only where a
    level changed."""
    points = names.config.points_at(names.tenant, names.at)
    system = points.systems.get(changed.system_id)
    body: dict[str, Any] = {
        **(points_system_json(system) if system else {"id": str(changed.system_id)}),
        "total": changed.total,
        "added": changed.added,
        "awards": [dict(shown.awards[a]) for a in changed.awards if a in shown.awards],
    }
    if changed.level_changed:
        level = next((lv for lv in points.levels if lv.id == changed.level), None)
        body["level"] = level_json(level)
    return changed.kind, {"points": body}


def _notice(
    notice: Notice, names: Names, history: Mapping[date, PeriodRecord]
) -> tuple[str, dict[str, Any]]:
    fields: dict[str, Any] = {"timestamp": iso(notice.due.astimezone(UTC))}
    if isinstance(notice, AchievementDue):
        achievement = names.achievement_by_id(notice.achievement_id)
        shown = (
            names.achievement(achievement) if achievement else {"id": str(notice.achievement_id)}
        )
        fields["achievement"] = {**shown, "achievedAt": iso(notice.achieved_at.astimezone(UTC))}
    elif isinstance(notice, RecapDue):
        fields["recap"] = {
            "periodStart": notice.start.isoformat(),
            "periodEnd": notice.end.isoformat(),
        }
    elif isinstance(notice, ReactivationDue):
        fields["reactivation"] = {
            "messageNumber": notice.number,
            "daysSinceLastActive": notice.days,
        }
    else:
        streak = notice.streak
        stored = {d: p for d, p in history.items() if p.frequency == streak.frequency}
        fields["streak"] = streak_response_json(
            streak,
            notice.rules,
            stored,
            REMINDER_HISTORY,
            notice.due.date(),  # local: due is zoned
        )
    return notice.kind, fields


def _by_command(effects: Iterable[tuple[UserKey, uuid.UUID, T]]) -> Mapping[uuid.UUID, list[T]]:
    found: dict[uuid.UUID, list[T]] = {}
    for _, command_id, effect in effects:
        found.setdefault(command_id, []).append(effect)
    return found


def _streak_of(decision: Decision) -> StreakView | None:
    outcome = decision.outcome
    if isinstance(outcome, MetricEventRecorded | StreakChanged):
        return outcome.streak
    return None


def _points_of(decision: Decision) -> tuple[PointsChange, ...]:
    outcome = decision.outcome
    if isinstance(outcome, MetricEventRecorded | AchievementCompleted):
        return outcome.points
    return ()


def _transition(transition: Transition, streak: StreakView | None) -> tuple[str, dict[str, Any]]:
    if transition.kind in ("streak.started", "streak.extended") and streak is not None:
        return transition.kind, {"streak": streak_json(streak)}
    return transition.kind, transition_json(transition)


def _level_changes(changes: Iterable[PointsChange]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (
            "points.level_changed",
            {
                "points": {**points_system_json(change.system), "total": change.total},
                "previousLevel": level_json(change.level.previous),
                "newLevel": level_json(change.level.current),
            },
        )
        for change in changes
        if change.level is not None
    ]


def rankings_message(
    kind: str,
    cause: str,
    board: Leaderboard,
    board_body: Mapping[str, Any],
    run: Run,
    group: tuple[str, ...] | None,
    top: Iterable[Mapping[str, Any]],
    names: Mapping[str, str | None],
    at: datetime,
) -> Message:
    """A ``leaderboard.changed`` or ``leaderboard.finished``: Trophy's
    ``LeaderboardResponseWithRankings`` with the group's top (``userId``, ``rank``, ``value``
    each), and, as Laurel's additions, which run it is and which breakdown group."""
    id = message_id(cause, 0)
    rankings = [
        {
            "userId": t["userId"],
            "userName": names.get(t["userId"]),
            "rank": t["rank"],
            "value": whole(t["value"]),
        }
        for t in top
    ]
    leaderboard = {
        **board_body,
        "status": "finished" if kind == "leaderboard.finished" else board.status_at(at),
        "runStart": run.start.isoformat(),
        "runEnd": run.end.isoformat() if run.end else None,
        "rankings": rankings,
    }
    if group:
        leaderboard["breakdownAttributeValues"] = list(group)
    body = {"id": id, "type": kind, "leaderboard": leaderboard}
    return Message(id, board.tenant, None, kind, at, body)


def finished_messages(
    board: Leaderboard,
    board_body: Mapping[str, Any],
    run: Run,
    results: Iterable[tuple[tuple[str, ...] | None, list[dict[str, Any]]]],
    names: Mapping[str, str | None],
    at: datetime,
) -> list[Message]:
    """``leaderboard.finished`` of a run that is over, for each breakdown group's final top 10.
    The id is the run's and the group's, so the ranker finalising the same run again (after a
    replay) announces nothing new."""
    kind = "leaderboard.finished"
    return [
        rankings_message(
            kind,
            f"{board.tenant}/{kind}/{board.id}/{run.start}/{list(group or ())}",
            board,
            board_body,
            run,
            group,
            top,
            names,
            at,
        )
        for group, top in results
    ]


ANNOUNCE_WITHIN = timedelta(days=1)
"""A time-driven message is announced from when it is due until a day later: after that (a
processor down that long, an endpoint created later) it is not sent at all."""


def timed_messages(
    config: ConfigHistory,
    tenants: Iterable[str],
    now: datetime,
    zones: Mapping[UserKey, str | None],
    wanted: Wanted,
) -> list[Message]:
    """The boosts and leaderboard runs of ``tenants`` due to be announced at ``now``; a user's
    boost is timed in the user's zone (``zones``). Ids name the boost or the run, so announcing
    the same one again adds nothing."""

    def due(at: datetime | None) -> bool:
        return at is not None and at <= now < at + ANNOUNCE_WITHIN

    messages = []
    for tenant in tenants:
        points = config.points_at(tenant, now)
        for boost in points.boosts:
            tz = zones.get((tenant, boost.user_id)) if boost.user_id is not None else None
            for kind, at in (
                ("points.boost_started", boost_started_at(boost, tz)),
                ("points.boost_finished", boost_finished_at(boost, tz)),
            ):
                if due(at) and at is not None and wanted(tenant, kind):
                    system = points.systems.get(boost.system_id)
                    messages.append(_boost_message(kind, boost, system, at))
        if not wanted(tenant, "leaderboard.started"):
            continue
        for board in config.leaderboards_at(tenant, now):
            if board.status not in ("active", "scheduled"):
                continue
            for run in runs_starting(board, now.date(), now.date() + timedelta(days=2)):
                at = run_started_at(run)
                if due(at):
                    messages.append(_run_started(board, run, config, at, now))
    return messages


def _boost_message(
    kind: str, boost: PointsBoost, system: PointsSystem | None, at: datetime
) -> Message:
    id = message_id(f"{boost.tenant}/{kind}/{boost.id}", 0)
    body = {
        "id": id,
        "type": kind,
        "timestamp": iso(at),
        "boost": {
            "id": str(boost.id),
            "name": boost.name,
            "status": "active" if kind == "points.boost_started" else "finished",
            "userId": boost.user_id,
            "pointsSystemId": str(boost.system_id),
            "pointsSystemKey": system.key if system else None,
            "pointsSystemName": system.name if system else None,
            "start": boost.start.isoformat(),
            "end": boost.end.isoformat() if boost.end else None,
            "multiplier": boost.multiplier,
            "rounding": boost.rounding,
        },
    }
    return Message(id, boost.tenant, None, kind, at, body)


def _run_started(
    board: Leaderboard, run: Run, config: ConfigHistory, at: datetime, now: datetime
) -> Message:
    kind = "leaderboard.started"
    id = message_id(f"{board.tenant}/{kind}/{board.id}/{run.start}", 0)
    leaderboard = {
        **board_json(board, config, now),
        "status": board.status_at(now),
        "runStart": run.start.isoformat(),
        "runEnd": run.end.isoformat() if run.end else None,
        "rankings": [],  # nobody has a value before the run's first day
    }
    body = {"id": id, "type": kind, "timestamp": iso(at), "leaderboard": leaderboard}
    return Message(id, board.tenant, None, kind, at, body)


def rank_changed_message(
    cause: str,
    tenant: str,
    user: Mapping[str, Any],
    board_body: Mapping[str, Any],
    change: tuple[int | None, float, int | None, float | None],
    at: datetime,
) -> Message:
    """``leaderboard.rank_changed``: the user and Trophy's ``WebhookUserLeaderboardResponse``
    (the board with ``rank``, ``value``, ``previousRank`` and ``previousValue``); ``change`` is
    (rank, value, previous rank, previous value) and ``cause`` names the stored rank change."""
    rank, value, previous_rank, previous_value = change
    id = message_id(cause, 0)
    leaderboard = {
        **board_body,
        "rank": rank,
        "value": whole(value),
        "previousRank": previous_rank,
        "previousValue": whole(previous_value) if previous_value is not None else None,
    }
    body = {"id": id, "type": "leaderboard.rank_changed", "user": user, "leaderboard": leaderboard}
    return Message(id, tenant, str(user["id"]), "leaderboard.rank_changed", at, body)
