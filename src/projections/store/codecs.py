"""The JSON columns' codecs: streak settings, preferences, streak and points states,
transitions, and the configuration documents decoded into the core's types.

Settings and preferences are stored in the same shape the API shows (Trophy's field names), so
one function serves both. The streak state's form is private to the projection table.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, TypedDict

from projections.core.achievements import Achievement, AttributeFilter
from projections.core.leaderboards import BreakdownAttribute, Leaderboard
from projections.core.model import Preferences
from projections.core.notices import AchievementDue, Notices, PointsWindow
from projections.core.periods import MONDAY
from projections.core.points import (
    PointsBoost,
    PointsLevel,
    PointsState,
    PointsSystem,
    PointsTrigger,
)
from projections.core.streaks import (
    EndedRun,
    FreezePolicy,
    Pause,
    Streak,
    StreakPreferences,
    StreakSettings,
    Transition,
)


def iso_day(value: date | None) -> str | None:
    """A date as ``YYYY-MM-DD`` (``None`` stays ``None``)."""
    return value.isoformat() if value is not None else None


def _parse_day(value: Any) -> date | None:
    return date.fromisoformat(value) if value is not None else None


def iso_instant(value: datetime | None) -> str | None:
    """An instant in ISO 8601 (``None`` stays ``None``)."""
    return value.isoformat() if value is not None else None


def _parse_instant(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def _metrics_json(metrics: tuple[tuple[str, float], ...]) -> list[dict[str, Any]]:
    return [{"key": key, "threshold": threshold} for key, threshold in metrics]


def _metrics(raw: Any) -> tuple[tuple[str, float], ...]:
    return tuple((m["key"], float(m["threshold"])) for m in raw)


def settings_json(settings: StreakSettings) -> dict[str, Any]:
    """Trophy's admin ``StreakSettings`` plus Laurel's ``weekStart``."""
    policy = settings.freezes
    return {
        "frequency": settings.frequency,
        "evaluationMode": settings.evaluation_mode,
        "customizationEnabled": settings.customization_enabled,
        "daysOff": sorted(settings.days_off),
        "metrics": _metrics_json(settings.metrics),
        "freezes": None
        if policy is None
        else {
            "startCount": policy.start_count,
            "maxCount": policy.max_count,
            "autoEarnInterval": policy.auto_earn_interval_days,
            "autoEarnAmount": policy.auto_earn_amount,
        },
        "weekStart": settings.week_start,
    }


def settings_from_json(raw: Mapping[str, Any]) -> StreakSettings:
    """The inverse of :func:`settings_json` (input already validated)."""
    policy = raw.get("freezes")
    return StreakSettings(
        frequency=raw["frequency"],
        evaluation_mode=raw["evaluationMode"],
        customization_enabled=raw["customizationEnabled"],
        days_off=frozenset(raw["daysOff"]),
        metrics=_metrics(raw["metrics"]),
        freezes=None
        if policy is None
        else FreezePolicy(
            start_count=policy["startCount"],
            max_count=policy["maxCount"],
            auto_earn_interval_days=policy.get("autoEarnInterval"),
            auto_earn_amount=policy.get("autoEarnAmount"),
        ),
        week_start=raw.get("weekStart", MONDAY),
    )


def preferences_json(preferences: Preferences) -> dict[str, Any]:
    """Trophy's ``UserPreferencesResponse``: unset overrides are left out."""
    streak = preferences.streak
    streak_json: dict[str, Any] = {"enabled": streak.enabled}
    if streak.evaluation_mode is not None:
        streak_json["evaluationMode"] = streak.evaluation_mode
    if streak.metrics is not None:
        streak_json["metrics"] = _metrics_json(streak.metrics)
    if streak.days_off is not None:
        streak_json["daysOff"] = sorted(streak.days_off)
    return {
        "notifications": {k: list(v) for k, v in sorted(preferences.notifications.items())},
        "streak": streak_json,
    }


def preferences_from_json(raw: Mapping[str, Any]) -> Preferences:
    """The stored preferences column decoded."""
    streak = raw.get("streak") or {}
    return Preferences(
        notifications={k: tuple(v) for k, v in (raw.get("notifications") or {}).items()},
        streak=StreakPreferences(
            enabled=streak.get("enabled", True),
            evaluation_mode=streak.get("evaluationMode"),
            metrics=_metrics(streak["metrics"]) if "metrics" in streak else None,
            days_off=frozenset(streak["daysOff"]) if "daysOff" in streak else None,
        ),
    )


def _utc_instant(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None else None


def notices_json(notices: Notices) -> dict[str, Any]:
    """A user's pending lifecycle messages for the ``users.notices`` column (lossless: see
    :func:`notices_state`; instants in UTC, so a cached and a loaded state write the same).

    For the store's JSON (``projections.store.connections.dump_json``) only: UUIDs and instants
    are left to orjson, which writes them as ``str()`` and ``isoformat()`` would, in C (this
    column is rewritten for every user a batch changes, with every award of an open
    ``points.changed`` window)."""
    return {
        "achievements": [
            {
                "id": a.achievement_id,
                "achievedAt": _utc_instant(a.achieved_at),
                "due": _utc_instant(a.due),
            }
            for a in notices.achievements
        ],
        "recap": iso_day(notices.recap),
        "lastActive": _utc_instant(notices.last_active),
        "reactivations": notices.reactivations,
        "reminded": iso_day(notices.reminded),
        "points": [
            {
                "system": w.system_id,
                "opened": _utc_instant(w.opened),
                "added": w.added,
                "total": w.total,
                "awards": w.awards,
                "level": w.level,
                "levelChanged": w.level_changed,
            }
            for w in notices.points
        ],
    }


def notices_state(raw: Mapping[str, Any]) -> Notices:
    """The stored ``users.notices`` column decoded (``{}``: nothing pending)."""
    return Notices(
        achievements=tuple(
            AchievementDue(
                uuid.UUID(a["id"]),
                datetime.fromisoformat(a["achievedAt"]),
                datetime.fromisoformat(a["due"]),
            )
            for a in raw.get("achievements", ())
        ),
        recap=_parse_day(raw.get("recap")),
        last_active=_parse_instant(raw.get("lastActive")),
        reactivations=raw.get("reactivations", 0),
        reminded=_parse_day(raw.get("reminded")),
        points=tuple(
            PointsWindow(
                uuid.UUID(w["system"]),
                datetime.fromisoformat(w["opened"]),
                w["added"],
                w["total"],
                tuple(uuid.UUID(a) for a in w["awards"]),
                uuid.UUID(w["level"]) if w["level"] is not None else None,
                w["levelChanged"],
            )
            for w in raw.get("points", ())
        ),
    )


def streak_state_json(streak: Streak) -> dict[str, Any]:
    """A streak state for the projection table (lossless: see :func:`streak_state`)."""
    return {
        "frequency": streak.frequency,
        "length": streak.length,
        "longest": streak.longest,
        "started": iso_day(streak.started),
        "extendedAt": iso_instant(streak.extended_at),
        "period": iso_day(streak.period),
        "progress": dict(sorted(streak.progress.items())),
        "met": streak.met,
        "resetAt": iso_instant(streak.reset_at),
        "freezes": streak.freezes,
        "earnedAt": iso_instant(streak.earned_at),
        "pauses": [
            {"id": str(p.id), "start": p.start.isoformat(), "end": p.end.isoformat()}
            for p in streak.pauses
        ],
        "endedRuns": [
            {"length": r.length, "started": iso_day(r.started), "ended": r.ended.isoformat()}
            for r in streak.ended_runs
        ],
        "asOf": iso_instant(streak.as_of),
    }


def streak_state(raw: Mapping[str, Any]) -> Streak:
    """The stored streak state decoded."""
    return Streak(
        frequency=raw["frequency"],
        length=raw["length"],
        longest=raw["longest"],
        started=_parse_day(raw["started"]),
        extended_at=_parse_instant(raw["extendedAt"]),
        period=_parse_day(raw["period"]),
        progress={k: float(v) for k, v in raw["progress"].items()},
        met=raw["met"],
        reset_at=_parse_instant(raw["resetAt"]),
        freezes=raw["freezes"],
        earned_at=_parse_instant(raw["earnedAt"]),
        pauses=tuple(
            Pause(uuid.UUID(p["id"]), date.fromisoformat(p["start"]), date.fromisoformat(p["end"]))
            for p in raw["pauses"]
        ),
        ended_runs=tuple(
            EndedRun(r["length"], _parse_day(r["started"]), date.fromisoformat(r["ended"]))
            for r in raw["endedRuns"]
        ),
        as_of=_parse_instant(raw["asOf"]),
    )


def transition_json(transition: Transition) -> dict[str, Any]:
    """A transition's webhook-ready payload fields (the user is added at delivery)."""
    if transition.kind == "streak.lost":
        return {"length": transition.length}
    if transition.kind == "streak.freeze_consumed":
        return {"consumed": transition.count, "freezes": transition.freezes}
    if transition.kind == "streak.freeze_earned":
        return {"earned": transition.count, "freezes": transition.freezes}
    return {"length": transition.length}


@dataclass(frozen=True)
class Document:
    """One version of a configuration document as stored."""

    tenant: str
    id: uuid.UUID
    body: Mapping[str, Any]
    created: datetime
    valid_from: datetime
    valid_to: datetime | None


def _filters(raw: Any, keys: Mapping[uuid.UUID, str]) -> tuple[AttributeFilter, ...]:
    out = []
    for item in raw or ():
        attribute_id = uuid.UUID(item["attributeId"])
        out.append(
            AttributeFilter(attribute_id, keys.get(attribute_id, ""), item["attributeValue"])
        )
    return tuple(out)


def _uuid(value: Any) -> uuid.UUID | None:
    return uuid.UUID(value) if value is not None else None


def _badge(body: Mapping[str, Any]) -> str | None:
    badge = body.get("badge")
    return badge.get("url") if isinstance(badge, dict) else None


class _Versioned(TypedDict):
    """What every configuration document's version shares."""

    valid_from: datetime
    valid_to: datetime | None
    tenant: str
    id: uuid.UUID
    created: datetime


def _versioned(doc: Document) -> _Versioned:
    return _Versioned(
        valid_from=doc.valid_from,
        valid_to=doc.valid_to,
        tenant=doc.tenant,
        id=doc.id,
        created=doc.created,
    )


def achievement_from(doc: Document, keys: Mapping[uuid.UUID, str]) -> Achievement:
    """An achievement document decoded (attribute filters by key, as ``keys`` names them)."""
    body = doc.body
    return Achievement(
        **_versioned(doc),
        name=body["name"],
        trigger=body["trigger"],
        status=body["status"],
        key=body.get("key"),
        description=body.get("description"),
        badge_url=_badge(body),
        metric_id=_uuid(body.get("metricId")),
        metric_value=body.get("metricValue"),
        streak_length=body.get("streakLength"),
        anniversary_years=body.get("anniversaryYears"),
        prerequisites=tuple(uuid.UUID(i) for i in body.get("achievementIds") or ()),
        user_filters=_filters(body.get("userAttributes"), keys),
        event_filters=_filters(body.get("eventAttributes"), keys),
    )


def points_system_from(doc: Document) -> PointsSystem:
    """A points system document decoded."""
    body = doc.body
    return PointsSystem(
        **_versioned(doc),
        key=body["key"],
        name=body["name"],
        description=body.get("description"),
        badge_url=_badge(body),
        max_points=body.get("maxPoints"),
    )


def points_trigger_from(doc: Document, keys: Mapping[uuid.UUID, str]) -> PointsTrigger:
    """A points trigger document decoded."""
    body = doc.body
    return PointsTrigger(
        **_versioned(doc),
        system_id=uuid.UUID(body["systemId"]),
        type=body["type"],
        points=body["points"],
        status=body["status"],
        updated=doc.valid_from,
        metric_id=_uuid(body.get("metricId")),
        metric_threshold=body.get("metricThreshold"),
        achievement_id=_uuid(body.get("achievementId")),
        streak_length=body.get("streakLength"),
        time_unit=body.get("timeUnit"),
        time_interval=body.get("timeInterval"),
        user_filters=_filters(body.get("userAttributes"), keys),
        event_filters=_filters(body.get("eventAttributes"), keys),
        block_if_out_of_points=bool(body.get("blockIfOutOfPoints")),
    )


def points_level_from(doc: Document) -> PointsLevel:
    """A points level document decoded."""
    body = doc.body
    return PointsLevel(
        **_versioned(doc),
        system_id=uuid.UUID(body["systemId"]),
        key=body["key"],
        name=body["name"],
        points=body["points"],
        description=body.get("description"),
        badge_url=_badge(body),
    )


def points_boost_from(doc: Document, keys: Mapping[uuid.UUID, str]) -> PointsBoost:
    """A points boost document decoded."""
    body = doc.body
    return PointsBoost(
        **_versioned(doc),
        system_id=uuid.UUID(body["systemId"]),
        name=body["name"],
        start=date.fromisoformat(body["start"]),
        end=_parse_day(body.get("end")),
        multiplier=float(body["multiplier"]),
        rounding=body.get("rounding") or "down",
        user_id=body.get("userId"),
        user_filters=_filters(body.get("userAttributes"), keys),
    )


def _by_id(values: Mapping[uuid.UUID, Any]) -> dict[str, Any]:
    return dict(sorted((str(k), v) for k, v in values.items()))


def points_state_json(state: PointsState) -> dict[str, Any]:
    """A user's points state for the projection table (lossless: see :func:`points_state`)."""
    return {
        "totals": _by_id(state.totals),
        "levels": {k: str(v) for k, v in _by_id(state.levels).items()},
        "units": _by_id(state.units),
        "paid": _by_id(state.paid),
        "timers": {k: v.isoformat() for k, v in _by_id(state.timers).items()},
    }


def points_state(raw: Mapping[str, Any]) -> PointsState:
    """The stored points state decoded."""
    return PointsState(
        totals={uuid.UUID(k): int(v) for k, v in raw.get("totals", {}).items()},
        levels={uuid.UUID(k): uuid.UUID(v) for k, v in raw.get("levels", {}).items()},
        units={uuid.UUID(k): float(v) for k, v in raw.get("units", {}).items()},
        paid={uuid.UUID(k): int(v) for k, v in raw.get("paid", {}).items()},
        timers={uuid.UUID(k): datetime.fromisoformat(v) for k, v in raw.get("timers", {}).items()},
    )


def _clock(value: Any) -> time | None:
    return time.fromisoformat(value) if value else None


def leaderboard_from(doc: Document, keys: Mapping[uuid.UUID, str]) -> Leaderboard:
    """A leaderboard document decoded."""
    body = doc.body
    start = _parse_day(body.get("start"))
    assert start is not None
    return Leaderboard(
        **_versioned(doc),
        key=body["key"],
        name=body["name"],
        rank_by=body["rankBy"],
        status=body["status"],
        start=start,
        end=_parse_day(body.get("end")),
        description=body.get("description"),
        metric_id=_uuid(body.get("metricId")),
        points_system_id=_uuid(body.get("pointsSystemId")),
        max_participants=body.get("maxParticipants"),
        start_time=_clock(body.get("startTime")),
        end_time=_clock(body.get("endTime")),
        breakdown=tuple(
            BreakdownAttribute(uuid.UUID(i), keys.get(uuid.UUID(i), ""))
            for i in body.get("breakdownAttributes") or ()
        ),
        run_unit=body.get("runUnit"),
        run_interval=body.get("runInterval"),
        user_filters=_filters(body.get("userAttributes"), keys),
    )
