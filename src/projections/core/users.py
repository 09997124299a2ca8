"""Applying a user patch to a profile."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from projections.core.commands import UNSET, StreakPreferencesPatch, UserPatch
from projections.core.model import UserProfile
from projections.core.streaks import StreakPreferences
from projections.core.values import replace


def apply_patch(profile: UserProfile | None, patch: UserPatch, at: datetime) -> UserProfile:
    """The profile after ``patch`` at time ``at``; creates one when ``profile`` is ``None``.

    Attributes merge key by key. Following Trophy, an unsubscribed user's email is not kept.
    """
    base = profile or UserProfile(created=at, updated=at)
    changes = _set_fields(
        patch, ("name", "email", "tz", "device_tokens", "subscribe_to_emails", "sign_up_date")
    )
    if patch.attributes:
        changes["attributes"] = {**base.attributes, **patch.attributes}
    updated = replace(base, **changes) if changes else base
    if not updated.subscribe_to_emails and updated.email is not None:
        updated = replace(updated, email=None)
    if updated != base or profile is None:
        updated = replace(updated, updated=max(at, base.updated))
    return updated


def apply_streak_patch(
    preferences: StreakPreferences, patch: StreakPreferencesPatch
) -> StreakPreferences:
    """The streak preferences after ``patch``."""
    return replace(
        preferences, **_set_fields(patch, ("enabled", "evaluation_mode", "metrics", "days_off"))
    )


def _set_fields(patch: object, names: tuple[str, ...]) -> dict[str, Any]:
    """The fields of ``patch`` among ``names`` that are not :data:`UNSET`."""
    return {name: getattr(patch, name) for name in names if getattr(patch, name) is not UNSET}
