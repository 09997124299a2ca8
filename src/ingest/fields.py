"""Field parsers shared by the record decoder and the API's request parsing: a user's inline
fields, values, attribute maps, preferences. Each raises :class:`ContractError` naming the
field."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date
from typing import Any, Final

from projections.core.commands import StreakPreferencesPatch, UserPatch
from projections.core.validation import RuleViolation, check_days_off
from projections.core.zones import valid_time_zone

MAX_KEY_LENGTH: Final = 255


class ContractError(ValueError):
    """A record or request does not follow the contract; the message names the field."""


PATCH_FIELDS: Final = {
    "name": "name",
    "email": "email",
    "tz": "tz",
    "device_tokens": "deviceTokens",
    "subscribe_to_emails": "subscribeToEmails",
    "sign_up_date": "signUpDate",
}


def text_field(
    obj: Mapping[str, Any], name: str, *, where: str = "", optional: bool = False
) -> Any:
    """Field ``name`` of ``obj`` as a string (``None`` when ``optional`` and absent)."""
    value = obj.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise ContractError(f"{where}{name} must be a string")
    return value


def string_map(value: Any, where: str) -> dict[str, str]:
    """An object of string values (``{}`` when absent)."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ContractError(f"{where} must be an object of string values")
    return value


def decode_user_patch(raw: Any, where: str = "user") -> tuple[str, UserPatch]:  # noqa: C901 (one flat check per field)
    """Parse a Trophy ``UpsertedUser``-shaped object into its id and patch."""
    if not isinstance(raw, dict):
        raise ContractError(f"{where} must be an object")
    user_id = raw.get("id")
    if not isinstance(user_id, str) or not user_id.strip():
        raise ContractError(f"{where}.id must be a non-empty string")
    if len(user_id) > MAX_KEY_LENGTH:
        raise ContractError(f"{where}.id must be at most {MAX_KEY_LENGTH} characters")
    fields: dict[str, Any] = {}
    for name in ("name", "email"):
        if name in raw:
            value = raw[name]
            if value is not None and not isinstance(value, str):
                raise ContractError(f"{where}.{name} must be a string or null")
            fields[name] = value
    if "tz" in raw:
        tz = raw["tz"]
        if tz is not None and (not isinstance(tz, str) or not valid_time_zone(tz)):
            raise ContractError(f"{where}.tz must be an IANA time zone name, got {tz!r}")
        fields["tz"] = tz
    if "deviceTokens" in raw:
        tokens = raw["deviceTokens"]
        if tokens is not None and (
            not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens)
        ):
            raise ContractError(f"{where}.deviceTokens must be an array of strings or null")
        fields["device_tokens"] = None if tokens is None else tuple(tokens)
    if "subscribeToEmails" in raw and raw["subscribeToEmails"] is not None:
        if not isinstance(raw["subscribeToEmails"], bool):
            raise ContractError(f"{where}.subscribeToEmails must be a boolean")
        fields["subscribe_to_emails"] = raw["subscribeToEmails"]
    if "signUpDate" in raw:
        value = raw["signUpDate"]
        if value is None:
            fields["sign_up_date"] = None
        else:
            try:
                fields["sign_up_date"] = date.fromisoformat(value)
            except (TypeError, ValueError):
                raise ContractError(f"{where}.signUpDate must be a YYYY-MM-DD date") from None
    attributes = string_map(raw.get("attributes"), f"{where}.attributes")
    return user_id, UserPatch(attributes=attributes, **fields)


def parse_value(raw: Any, where: str = "value") -> float:
    """A finite number (booleans are not numbers here)."""
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ContractError(f"{where} must be a number")
    value = float(raw)
    if not math.isfinite(value):
        raise ContractError(f"{where} must be a finite number")
    return value


NOTIFICATION_TYPES: Final = ("achievement_completed", "recap", "reactivation", "streak_reminder")
CHANNELS: Final = ("email", "push")


def decode_preferences(  # noqa: C901 (one flat check per field)
    raw: Any,
) -> tuple[dict[str, tuple[str, ...]], StreakPreferencesPatch]:
    """Parse Trophy's ``UpdateUserPreferencesRequest``."""
    if not isinstance(raw, dict):
        raise ContractError("the body must be an object")
    unknown = sorted(set(raw) - {"notifications", "streak"})
    if unknown:
        raise ContractError(f"unknown fields: {', '.join(unknown)}")
    notifications: dict[str, tuple[str, ...]] = {}
    given = raw.get("notifications")
    if given is not None:
        if not isinstance(given, dict):
            raise ContractError("notifications must be an object")
        for kind, channels in given.items():
            if kind not in NOTIFICATION_TYPES:
                raise ContractError(
                    f"notifications.{kind} is not a notification type "
                    f"({', '.join(NOTIFICATION_TYPES)})"
                )
            if not isinstance(channels, list) or not all(c in CHANNELS for c in channels):
                raise ContractError(f"notifications.{kind} must be an array of email, push")
            notifications[kind] = tuple(dict.fromkeys(channels))
    streak = raw.get("streak")
    if streak is None:
        return notifications, StreakPreferencesPatch()
    if not isinstance(streak, dict):
        raise ContractError("streak must be an object")
    fields: dict[str, Any] = {}
    if "enabled" in streak:
        if not isinstance(streak["enabled"], bool):
            raise ContractError("streak.enabled must be a boolean")
        fields["enabled"] = streak["enabled"]
    if "evaluationMode" in streak:
        if streak["evaluationMode"] not in ("AND", "OR", None):
            raise ContractError("streak.evaluationMode must be AND or OR")
        fields["evaluation_mode"] = streak["evaluationMode"]
    if "metrics" in streak:
        fields["metrics"] = (
            None
            if streak["metrics"] is None
            else streak_metrics(streak["metrics"], "streak.metrics")
        )
    if "daysOff" in streak:
        fields["days_off"] = None if streak["daysOff"] is None else days_off(streak["daysOff"])
    return notifications, StreakPreferencesPatch(**fields)


def streak_metrics(raw: Any, where: str) -> tuple[tuple[str, float], ...]:
    """``[{key, threshold}]`` with distinct keys and positive thresholds."""
    if not isinstance(raw, list):
        raise ContractError(f"{where} must be an array of {{key, threshold}}")
    out: dict[str, float] = {}
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ContractError(f"{where}[{index}] must be an object with key and threshold")
        key = text_field(item, "key", where=f"{where}[{index}].")
        threshold = parse_value(item.get("threshold"), f"{where}[{index}].threshold")
        if threshold <= 0:
            raise ContractError(f"{where}[{index}].threshold must be greater than 0")
        if key in out:
            raise ContractError(f"{where} lists {key!r} twice")
        out[key] = threshold
    return tuple(out.items())


def days_off(raw: Any) -> frozenset[int]:
    """Streak days off: an array of distinct weekdays, 0 (Sunday) to 6 (Saturday), not all seven."""
    if not isinstance(raw, list):
        raise ContractError("daysOff must be an array of weekdays (0 = Sunday … 6 = Saturday)")
    try:
        return check_days_off(raw)
    except RuleViolation as exc:
        raise ContractError(str(exc)) from None


def local_day(raw: Any, where: str) -> date:
    """A ``YYYY-MM-DD`` local date."""
    if not isinstance(raw, str):
        raise ContractError(f"{where} must be a YYYY-MM-DD date")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ContractError(f"{where} must be a YYYY-MM-DD date") from None
