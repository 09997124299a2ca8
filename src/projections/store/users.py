"""The ``users`` table's rows: a user's profile, preferences and pending notices as columns."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from projections.core.model import UserProfile, UserState
from projections.store.codecs import notices_json, preferences_json


def profile_from_row(row: Sequence[Any]) -> UserProfile:
    """A user's profile from a ``users`` row (``USER_COLUMNS``)."""
    (name, email, tz, tokens, subscribe, attributes, sign_up, created, updated) = row
    return UserProfile(
        created=created,
        updated=updated,
        name=name,
        email=email,
        tz=tz,
        device_tokens=tuple(tokens) if tokens is not None else None,
        subscribe_to_emails=subscribe,
        sign_up_date=sign_up,
        attributes=attributes or {},
    )


USER_COLUMNS = (
    "name, email, tz, device_tokens, subscribe_to_emails, attributes, sign_up_date, "
    "created, updated"
)


def user_params(state: UserState) -> tuple[Any, ...]:
    """A user's ``users`` row, JSON columns as JSON-ready values."""
    profile = state.profile
    assert profile is not None
    tokens = list(profile.device_tokens) if profile.device_tokens is not None else None
    sign_up: date | None = profile.sign_up_date
    return (
        state.tenant,
        state.user_id,
        profile.name,
        profile.email,
        profile.tz,
        tokens,
        profile.subscribe_to_emails,
        dict(profile.attributes),
        sign_up,
        profile.created,
        profile.updated,
        preferences_json(state.preferences),
        notices_json(state.notices),
    )
