"""The commands topic's record format, version 1.

Every change to a user's state is one record on ``laurel.commands.v1``:

* key: the JSON array ``[tenant, userId]`` (``tenant`` is ``""`` without a Tenant-ID) written
  compactly, byte for byte as :func:`record_key` writes it, so one user's commands share a
  partition and keep their order;
* value: a UTF-8 JSON object with ``"v": 1``, a ``"type"``, a UUID ``"id"`` (the event id; a
  producer that resends a record must keep it), ``"tenant"``, ``"receivedAt"`` (RFC 3339 with a
  zone) and the type's fields, documented in the README.

Producers may write records directly; the processor decodes them with :func:`decode` and sends
anything that fails to the dead-letter topic with the reason. New versions are read through
:data:`UPCASTERS`, which lift an older value to the newest shape before decoding.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any, Final, TypeAlias

import orjson

from ingest.fields import (
    PATCH_FIELDS,
    ContractError,
    decode_preferences,
    decode_user_patch,
    local_day,
    parse_value,
    string_map,
    text_field,
)
from ingest.ids import new_command_id
from projections.core.commands import (
    UNSET,
    ChangeStreak,
    Command,
    CompleteAchievement,
    RecordMetricEvent,
    StreakPreferencesPatch,
    Tick,
    UpdatePreferences,
    UpsertMode,
    UpsertUser,
    UserPatch,
)
from projections.core.text import nul_path

__all__ = [
    "UNSET",
    "ChangeStreak",
    "Command",
    "CompleteAchievement",
    "ContractError",
    "RecordMetricEvent",
    "Tick",
    "UpdatePreferences",
    "UpsertMode",
    "UpsertUser",
    "UserPatch",
    "decode",
    "encode",
    "new_command_id",
    "record_key",
]

VERSION: Final = 1


# ---------------------------------------------------------------------------------------------
# Keys


def record_key(tenant: str, user_id: str) -> bytes:
    """The Kafka record key for a user: the JSON array ``[tenant, userId]`` with no whitespace,
    non-ASCII characters as their UTF-8 bytes (never ``\\u`` escapes), and only ``"``, ``\\``
    and control characters escaped (``\\b \\t \\n \\f \\r``, others ``\\u00xx``).

    These are the bytes of JavaScript's ``JSON.stringify([tenant, userId])`` and of Python's
    ``json.dumps([tenant, user_id], separators=(",", ":"), ensure_ascii=False)``. The bytes
    choose the partition, so no other spelling of the same array is accepted."""
    return orjson.dumps([tenant, user_id])


def _check_key(key: bytes | None, tenant: str, user_id: str) -> None:
    """Raise :class:`ContractError` unless ``key`` is the record key of ``tenant`` and
    ``user_id``, showing the bytes expected and the bytes found."""
    expected = record_key(tenant, user_id)
    if key != expected:
        found = "no key" if key is None else f"{key!r}"
        raise ContractError(
            f"expected key {expected!r}, got {found}: the key must be the compact JSON array "
            "[tenant, user.id] so that the user's commands stay in one partition"
        )


# ---------------------------------------------------------------------------------------------
# Encoding


def _patch_to_json(patch: UserPatch, user_id: str) -> dict[str, Any]:
    out: dict[str, Any] = {"id": user_id}
    for name, wire in PATCH_FIELDS.items():
        value = getattr(patch, name)
        if value is UNSET:
            continue
        if isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, date):
            value = value.isoformat()
        out[wire] = value
    if patch.attributes:
        out["attributes"] = dict(patch.attributes)
    return out


def preferences_json(
    notifications: Mapping[str, tuple[str, ...]], streak: StreakPreferencesPatch
) -> dict[str, Any]:
    """Trophy's ``UpdateUserPreferencesRequest`` for a preferences change (set fields only)."""
    streak_json: dict[str, Any] = {}
    if streak.enabled is not UNSET:
        streak_json["enabled"] = streak.enabled
    if streak.evaluation_mode is not UNSET:
        streak_json["evaluationMode"] = streak.evaluation_mode
    if isinstance(streak.metrics, tuple) or streak.metrics is None:
        metrics = streak.metrics or ()
        streak_json["metrics"] = (
            None if streak.metrics is None else [{"key": k, "threshold": t} for k, t in metrics]
        )
    if isinstance(streak.days_off, frozenset) or streak.days_off is None:
        streak_json["daysOff"] = None if streak.days_off is None else sorted(streak.days_off)
    return {"notifications": {k: list(v) for k, v in notifications.items()}, "streak": streak_json}


def encode(command: Command) -> bytes:
    """The record value for ``command``."""
    body: dict[str, Any] = {
        "v": VERSION,
        "type": command.type,
        "id": str(command.id),
        "tenant": command.tenant,
        "receivedAt": command.received_at.isoformat(),
        "user": {"id": command.user_id},
    }
    if isinstance(command, RecordMetricEvent):
        body |= {
            "user": _patch_to_json(command.user, command.user_id),
            "metric": command.metric_key,
            "value": command.value,
            "attributes": dict(command.attributes),
            "idempotencyKey": command.idempotency_key,
        }
    elif isinstance(command, UpsertUser):
        body |= {"user": _patch_to_json(command.user, command.user_id), "mode": command.mode}
    elif isinstance(command, CompleteAchievement):
        body |= {
            "user": _patch_to_json(command.user, command.user_id),
            "achievementId": str(command.achievement_id),
            "backdate": command.backdate,
        }
    elif isinstance(command, UpdatePreferences):
        body |= preferences_json(command.notifications, command.streak)
    elif isinstance(command, ChangeStreak):
        body["action"] = command.action
        if command.action == "grant_freezes":
            body["count"] = command.count
        if command.pause_id is not None:
            body["pauseId"] = str(command.pause_id)
        if command.start is not None and command.end is not None:
            body |= {"start": command.start.isoformat(), "end": command.end.isoformat()}
    return orjson.dumps(body)


# ---------------------------------------------------------------------------------------------
# Decoding

Upcaster: TypeAlias = Callable[[dict[str, Any]], dict[str, Any]]
UPCASTERS: Final[Mapping[int, Upcaster]] = {}
"""Functions lifting a value of version ``n`` to version ``n + 1``; none exist yet."""


def _decode_streak_change(body: Mapping[str, Any], common: dict[str, Any]) -> ChangeStreak:
    action = body.get("action")
    if action == "grant_freezes":
        count = body.get("count")
        if isinstance(count, bool) or not isinstance(count, int) or not 0 < count <= 100:
            raise ContractError("count must be an integer from 1 to 100")
        return ChangeStreak(**common, action=action, count=count)
    if action in ("add_pause", "remove_pause"):
        try:
            pause_id = uuid.UUID(text_field(body, "pauseId"))
        except ValueError:
            raise ContractError("pauseId must be a UUID") from None
        if action == "remove_pause":
            return ChangeStreak(**common, action=action, pause_id=pause_id)
        start, end = local_day(body.get("start"), "start"), local_day(body.get("end"), "end")
        return ChangeStreak(**common, action=action, pause_id=pause_id, start=start, end=end)
    if action in ("restore", "reset"):
        return ChangeStreak(**common, action=action)
    raise ContractError(
        "action must be one of grant_freezes, add_pause, remove_pause, restore, reset"
    )


def _lifted(value: bytes | None) -> dict[str, Any]:
    """The record's value as a JSON object of the newest version."""
    if value is None:
        raise ContractError("record has no value")
    try:
        body = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise ContractError(f"value is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ContractError("value must be a JSON object")
    # JSON writes NUL only as the escape \u0000: only a value holding that text is searched
    if b"\\u0000" in value and (where := nul_path(body, "value")) is not None:
        raise ContractError(f"{where} contains a NUL character (\\u0000), which cannot be stored")
    version = body.get("v")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ContractError("v must be an integer version")
    while version < VERSION and version in UPCASTERS:
        body = UPCASTERS[version](body)
        version = body["v"]
    if version != VERSION:
        raise ContractError(f"unsupported version {version} (this processor reads {VERSION})")
    lifted: dict[str, Any] = body
    return lifted


def _envelope(body: Mapping[str, Any], key: bytes | None) -> tuple[dict[str, Any], UserPatch]:
    """What every command carries (id, tenant, user id, receive time), checked against the
    record's key, and the user's inline fields."""
    try:
        command_id = uuid.UUID(text_field(body, "id"))
    except ValueError:
        raise ContractError("id must be a UUID") from None
    tenant = text_field(body, "tenant")
    try:
        received_at = datetime.fromisoformat(text_field(body, "receivedAt"))
    except ValueError:
        raise ContractError("receivedAt must be an RFC 3339 timestamp") from None
    if received_at.tzinfo is None:
        raise ContractError("receivedAt must carry a UTC offset")
    user_id, patch = decode_user_patch(body.get("user"))
    _check_key(key, tenant, user_id)
    common = {"id": command_id, "tenant": tenant, "user_id": user_id, "received_at": received_at}
    return common, patch


def _preferences(body: Mapping[str, Any], common: dict[str, Any], _: UserPatch) -> Command:
    notifications, streak = decode_preferences(
        {"notifications": body.get("notifications"), "streak": body.get("streak")}
    )
    return UpdatePreferences(**common, notifications=notifications, streak=streak)


def _tick(body: Mapping[str, Any], common: dict[str, Any], _: UserPatch) -> Command:
    return Tick(**common)


def _completion(body: Mapping[str, Any], common: dict[str, Any], patch: UserPatch) -> Command:
    try:
        achievement_id = uuid.UUID(text_field(body, "achievementId"))
    except ValueError:
        raise ContractError("achievementId must be a UUID") from None
    backdate = body.get("backdate", False)
    if not isinstance(backdate, bool):
        raise ContractError("backdate must be a boolean")
    return CompleteAchievement(
        **common, achievement_id=achievement_id, user=patch, backdate=backdate
    )


def _streak_change(body: Mapping[str, Any], common: dict[str, Any], _: UserPatch) -> Command:
    return _decode_streak_change(body, common)


def _metric_event(body: Mapping[str, Any], common: dict[str, Any], patch: UserPatch) -> Command:
    return RecordMetricEvent(
        **common,
        metric_key=text_field(body, "metric"),
        value=parse_value(body.get("value")),
        attributes=string_map(body.get("attributes"), "attributes"),
        user=patch,
        idempotency_key=text_field(body, "idempotencyKey", optional=True),
    )


def _upsert(body: Mapping[str, Any], common: dict[str, Any], patch: UserPatch) -> Command:
    mode = body.get("mode")
    if mode not in ("create", "identify", "update"):
        raise ContractError("mode must be one of create, identify, update")
    return UpsertUser(**common, user=patch, mode=mode)


_Decoder: TypeAlias = Callable[[Mapping[str, Any], dict[str, Any], UserPatch], Command]
_DECODERS: Final[Mapping[str, _Decoder]] = {
    "metric.event": _metric_event,
    "user.upsert": _upsert,
    "user.preferences": _preferences,
    "user.tick": _tick,
    "achievement.complete": _completion,
    "streak.change": _streak_change,
}


def decode(key: bytes | None, value: bytes | None) -> Command:
    """Decode and validate one record; raise :class:`ContractError` naming what is wrong.

    A record without a key is refused like one with the wrong key: Kafka spreads keyless
    records over the partitions, which would break the user's order."""
    body = _lifted(value)
    common, patch = _envelope(body, key)
    kind = body.get("type")
    decoder = _DECODERS.get(kind) if isinstance(kind, str) else None
    if decoder is None:
        raise ContractError(f"unknown command type {kind!r}")
    return decoder(body, common, patch)
