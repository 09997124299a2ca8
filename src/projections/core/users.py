"""Applying a user patch to a profile."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from projections.core.commands import UNSET, UserPatch
from projections.core.model import UserProfile


def apply_patch(profile: UserProfile | None, patch: UserPatch, at: datetime) -> UserProfile:
    """The profile after ``patch`` at time ``at``; creates one when ``profile`` is ``None``.

    Attributes merge key by key. Following Trophy, an unsubscribed user's email is not kept.
    """
    base = profile or UserProfile(created=at, updated=at)
    changes: dict[str, Any] = {
        name: getattr(patch, name)
        for name in ("name", "email", "tz", "device_tokens", "subscribe_to_emails", "sign_up_date")
        if getattr(patch, name) is not UNSET
    }
    if patch.attributes:
        changes["attributes"] = {**base.attributes, **patch.attributes}
    updated = replace(base, **changes)
    if not updated.subscribe_to_emails and updated.email is not None:
        updated = replace(updated, email=None)
    if updated != base or profile is None:
        updated = replace(updated, updated=max(at, base.updated))
    return updated
