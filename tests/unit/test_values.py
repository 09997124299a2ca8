"""The rules' ``replace`` builds what ``dataclasses.replace`` builds, and falls back to it where a
plain copy would not."""

from __future__ import annotations

import dataclasses
import functools
import gc
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pytest

from processors.collector import tuned_collector
from projections.core.model import UserState
from projections.core.notices import Notices
from projections.core.values import replace

AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "changes"),
    [
        (UserState("t", "u"), {"totals": {uuid.uuid4(): 3.0}}),
        (UserState("t", "u", totals={uuid.uuid4(): 1.0}), {"user_id": "v", "achievements": {}}),
        (Notices(recap=date(2026, 3, 2)), {"reactivations": 2, "last_active": AT}),
        (Notices(), {}),
    ],
    ids=["dict", "dict, two fields", "slots", "no change"],
)
def test_the_copy_is_what_dataclasses_replace_builds(
    value: UserState | Notices, changes: dict[str, Any]
) -> None:
    copied = replace(value, **changes)
    assert copied == dataclasses.replace(value, **changes)
    assert type(copied) is type(value)
    assert copied is not value
    for name, change in changes.items():
        assert getattr(copied, name) is change


def test_the_original_is_left_as_it_was() -> None:
    before = UserState("t", "u", totals={uuid.uuid4(): 1.0})
    kept = dataclasses.asdict(before)
    replace(before, totals={}, user_id="other")
    assert dataclasses.asdict(before) == kept


def test_an_unknown_field_is_refused_naming_it() -> None:
    with pytest.raises(TypeError, match=r"UserState has no field.*tottals"):
        replace(UserState("t", "u"), tottals={})  # type: ignore[call-arg]


@dataclass(frozen=True)
class _Checked:
    value: int

    def __post_init__(self) -> None:
        if self.value < 0:
            raise ValueError("negative")


@dataclass(frozen=True)
class _Cached:
    value: int

    @functools.cached_property
    def double(self) -> int:
        return 2 * self.value


@dataclass(frozen=True)
class _Derived:
    value: int
    derived: int = field(init=False, default=0)


def test_a_post_init_hook_still_runs() -> None:
    with pytest.raises(ValueError, match="negative"):
        replace(_Checked(1), value=-1)


def test_a_cached_property_is_not_carried_over() -> None:
    cached = _Cached(1)
    assert cached.double == 2
    assert replace(cached, value=5).double == 10


def test_a_field_outside_init_is_built_by_the_class() -> None:
    assert replace(_Derived(1), value=2) == _Derived(2)


def test_the_collector_is_tuned_within_the_block_and_restored_after() -> None:
    before = gc.get_threshold()
    with tuned_collector(123_456):
        assert gc.get_threshold()[0] == 123_456
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_a_zero_threshold_keeps_pythons() -> None:
    before = gc.get_threshold()
    with tuned_collector(0):
        assert gc.get_threshold() == before
