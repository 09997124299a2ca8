"""The ``users`` table's rows: a user's profile and preferences as columns."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from psycopg.types.json import Jsonb

from projections.core.model import UserProfile, UserState
from projections.store.codecs import preferences_json


def profile_from_row(row: Sequence[Any]) -> UserProfile:
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
    p = state.profile
    assert p is not None
    tokens = Jsonb(list(p.device_tokens)) if p.device_tokens is not None else None
    sign_up: date | None = p.sign_up_date
    return (
        state.tenant,
        state.user_id,
        p.name,
        p.email,
        p.tz,
        tokens,
        p.subscribe_to_emails,
        Jsonb(dict(p.attributes)),
        sign_up,
        p.created,
        p.updated,
        Jsonb(preferences_json(state.preferences)),
    )
