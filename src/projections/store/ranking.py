"""Rankings: one group of one leaderboard run held in an order-statistic structure.

Order: higher value first; on equal values whoever reached the value first; then user id (so
every order is total and paging is stable). Ranks are competition ranks — equal values share a
rank and the next rank skips (1, 1, 3) — computed by counting the entries with a strictly
greater value, in O(log n) with :class:`sortedcontainers.SortedList` (a list of sorted sublists
with a positional index), so a user's rank, the top page and the page around a user cost about
the same at a thousand and at a million participants.

A board holds at most ``capacity`` participants: the first ``capacity`` entries in this order.
A user further down is not on the board (rank ``None``) until they beat the last one — that is
Trophy's "a new user must beat the lowest score to enter", with the incumbent winning ties
because they reached the value first.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sortedcontainers import SortedList

_Key = tuple[float, int, str]
_FIRST = -(2**63)  # before any instant: a key that sorts ahead of every entry with its value
"""(-value, microseconds since the epoch when reached, user id)."""


@dataclass(frozen=True)
class Standing:
    """A participant's place on a board: user, value and rank."""

    user_id: str
    value: float
    rank: int


class Ranking:
    """The entries of one group, ordered; ``capacity`` ``None`` means no participant limit."""

    def __init__(
        self, capacity: int | None = None, entries: Iterable[tuple[str, float, int]] = ()
    ) -> None:
        """``entries``: (user id, value, microseconds when reached), one per user, sorted once."""
        self.capacity = capacity
        self._keys: dict[str, _Key] = {u: (-v, r, u) for u, v, r in entries}
        self._order: SortedList[_Key] = SortedList(self._keys.values())

    def put(self, user_id: str, value: float, reached_us: int) -> None:
        """Add the user's entry or replace it."""
        key = (-value, reached_us, user_id)
        old = self._keys.get(user_id)
        if old == key:
            return
        if old is not None:
            self._order.remove(old)
        self._order.add(key)
        self._keys[user_id] = key

    def remove(self, user_id: str) -> None:
        """Take the user off the board."""
        old = self._keys.pop(user_id, None)
        if old is not None:
            self._order.remove(old)

    def __len__(self) -> int:
        """Participants on the board (at most ``capacity``)."""
        size = len(self._order)
        return size if self.capacity is None else min(size, self.capacity)

    @property
    def entries(self) -> int:
        """Entries held, on the board or below it."""
        return len(self._order)

    def value_of(self, user_id: str) -> float | None:
        """The user's value, or ``None`` when absent."""
        key = self._keys.get(user_id)
        return -key[0] if key is not None else None

    def position(self, user_id: str) -> int | None:
        """The user's 0-based place on the board, or ``None`` when absent or below it."""
        key = self._keys.get(user_id)
        if key is None:
            return None
        index = self._order.index(key)
        return index if index < len(self) else None

    def rank_of_value(self, value: float) -> int:
        """The competition rank a value has: 1 + the entries with a strictly greater value."""
        return self._order.bisect_left((-value, _FIRST, "")) + 1

    def rank(self, user_id: str) -> int | None:
        """The user's rank, or ``None`` when they are not on the board."""
        if self.position(user_id) is None:
            return None
        value = self.value_of(user_id)
        assert value is not None
        return self.rank_of_value(value)

    def page(self, start: int, limit: int) -> list[Standing]:
        """The standings at places ``start`` .. ``start + limit - 1`` (clipped to the board)."""
        start = max(start, 0)
        stop = min(start + max(limit, 0), len(self))
        if start >= stop:
            return []
        out: list[Standing] = []
        rank = 0
        previous: float | None = None
        for index, (negative, _, user_id) in enumerate(self._order.islice(start, stop), start):
            value = -negative
            if value != previous:
                rank = index + 1 if previous is not None else self.rank_of_value(value)
                previous = value
            out.append(Standing(user_id, value, rank))
        return out

    def places(self, start: int, stop: int) -> list[tuple[str, float, int | None]]:
        """(user id, value, rank) of the entries at places ``start`` .. ``stop - 1``, on the
        board or below it (rank ``None`` there)."""
        on_board = len(self)
        out: list[tuple[str, float, int | None]] = []
        for index, (negative, _, user_id) in enumerate(
            self._order.islice(max(start, 0), max(stop, 0)), max(start, 0)
        ):
            rank = self.rank_of_value(-negative) if index < on_board else None
            out.append((user_id, -negative, rank))
        return out

    def around(self, user_id: str, offset: int, limit: int) -> list[Standing]:
        """A page starting ``offset`` places from the user's (negative: above them); empty when
        the user is not on the board."""
        at = self.position(user_id)
        if at is None:
            return []
        return self.page(max(at + offset, 0), limit)

    def threshold(self) -> float:
        """The value to beat to enter: the last participant's on a full board, else 0."""
        if self.capacity is None or len(self._order) < self.capacity:
            return 0
        return -self._order[self.capacity - 1][0]


def group_key(group: Sequence[str] | None) -> str | None:
    """The stored form of a breakdown group: ``""`` for a board without breakdowns."""
    if group is None:
        return None
    return json.dumps(list(group), separators=(",", ":"), ensure_ascii=False) if group else ""


def group_values(key: str | None) -> tuple[str, ...] | None:
    """The breakdown attribute values a stored group key names."""
    if key is None:
        return None
    return tuple(json.loads(key)) if key else ()
