"""JSON forms of streak settings, preferences and states, shared by the store and the API.

Settings and preferences are stored in the same shape the API shows (Trophy's field names), so
one function serves both. The streak state's form is private to the projection table.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from projections.core.model import Preferences
from projections.core.periods import MONDAY
from projections.core.streaks import (
    EndedRun,
    FreezePolicy,
    Pause,
    Streak,
    StreakPreferences,
    StreakSettings,
    Transition,
)


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_day(value: Any) -> date | None:
    return date.fromisoformat(value) if value is not None else None


def _instant(value: datetime | None) -> str | None:
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


def streak_state_json(streak: Streak) -> dict[str, Any]:
    """A streak state for the projection table (lossless: see :func:`streak_state`)."""
    return {
        "frequency": streak.frequency,
        "length": streak.length,
        "longest": streak.longest,
        "started": _day(streak.started),
        "extendedAt": _instant(streak.extended_at),
        "period": _day(streak.period),
        "progress": dict(sorted(streak.progress.items())),
        "met": streak.met,
        "resetAt": _instant(streak.reset_at),
        "freezes": streak.freezes,
        "earnedAt": _instant(streak.earned_at),
        "pauses": [
            {"id": str(p.id), "start": p.start.isoformat(), "end": p.end.isoformat()}
            for p in streak.pauses
        ],
        "endedRuns": [
            {"length": r.length, "started": _day(r.started), "ended": r.ended.isoformat()}
            for r in streak.ended_runs
        ],
        "asOf": _instant(streak.as_of),
    }


def streak_state(raw: Mapping[str, Any]) -> Streak:
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
