"""The order-statistic ranking against a naive sort of the same entries: random puts, moves and
removals (with many ties), then every query — rank, position, top pages, pages around a user at
both edges, the threshold — compared with the answer a full sort gives."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.store.ranking import Ranking, Standing


@dataclass
class NaiveBoard:
    """The model: a dict of entries, sorted in full for every question."""

    capacity: int | None
    entries: dict[str, tuple[float, int]] = field(default_factory=dict)

    def ordered(self) -> list[tuple[str, float]]:
        order = sorted(self.entries.items(), key=lambda i: (-i[1][0], i[1][1], i[0]))
        if self.capacity is not None:
            order = order[: self.capacity]
        return [(user, value) for user, (value, _) in order]

    def standings(self) -> list[Standing]:
        order = self.ordered()
        return [
            Standing(user, value, 1 + sum(1 for _, other in order if other > value))
            for user, value in order
        ]

    def position(self, user: str) -> int | None:
        return next((i for i, (u, _) in enumerate(self.ordered()) if u == user), None)

    def threshold(self) -> float:
        if self.capacity is None or len(self.entries) < self.capacity:
            return 0
        return self.ordered()[-1][1]


USERS = [f"u{i:02d}" for i in range(30)]
op = st.one_of(
    st.tuples(
        st.just("put"),
        st.sampled_from(USERS),
        st.integers(-3, 6).map(float),  # a narrow range: many ties
        st.integers(0, 5),  # reached at: ties here too, broken by user id
    ),
    st.tuples(st.just("remove"), st.sampled_from(USERS), st.just(0.0), st.just(0)),
)


@settings(max_examples=300, deadline=None)
@given(
    capacity=st.one_of(st.none(), st.integers(1, 25)),
    ops=st.lists(op, max_size=120),
    pages=st.lists(st.tuples(st.integers(-5, 35), st.integers(0, 12)), min_size=1, max_size=6),
)
def test_every_query_matches_a_naive_sort(
    capacity: int | None, ops: list[tuple[str, str, float, int]], pages: list[tuple[int, int]]
) -> None:
    ranking = Ranking(capacity)
    model = NaiveBoard(capacity)
    for kind, user, value, reached in ops:
        if kind == "put":
            ranking.put(user, value, reached)
            model.entries[user] = (value, reached)
        else:
            ranking.remove(user)
            model.entries.pop(user, None)

    expected = model.standings()
    assert len(ranking) == len(expected)
    assert ranking.page(0, len(expected) + 5) == expected
    assert ranking.threshold() == model.threshold()
    for user in USERS:
        place = model.position(user)
        assert ranking.position(user) == place
        assert ranking.rank(user) == (expected[place].rank if place is not None else None)
    everyone = sorted(model.entries.items(), key=lambda i: (-i[1][0], i[1][1], i[0]))
    below = [(u, v, None) for u, (v, _) in everyone[len(expected) :]]
    assert (
        ranking.places(0, len(everyone)) == [(s.user_id, s.value, s.rank) for s in expected] + below
    )
    for start, limit in pages:
        assert ranking.page(start, limit) == expected[max(start, 0) : max(start, 0) + limit]
        for user in USERS:  # around-me, including at the top and the bottom edge
            place = model.position(user)
            want = [] if place is None else expected[max(place + start, 0) :][:limit]
            assert ranking.around(user, start, limit) == want


def test_competition_ranks_share_and_skip() -> None:
    ranking = Ranking()
    for user, value, reached in [("a", 10, 3), ("b", 10, 1), ("c", 7, 0), ("d", 12, 9)]:
        ranking.put(user, value, reached)
    # d first; a and b tie at 10 (b reached it first); c after a skipped rank.
    assert [(s.user_id, s.rank) for s in ranking.page(0, 10)] == [
        ("d", 1),
        ("b", 2),
        ("a", 2),
        ("c", 4),
    ]
    assert ranking.rank_of_value(10) == 2
    assert ranking.rank_of_value(11) == 2
    assert ranking.rank_of_value(13) == 1


def test_a_full_board_is_entered_only_by_beating_the_last() -> None:
    ranking = Ranking(capacity=2)
    ranking.put("a", 5, 0)
    ranking.put("b", 3, 1)
    ranking.put("late", 3, 2)  # ties the last participant: the incumbent keeps the place
    assert ranking.rank("late") is None
    assert ranking.threshold() == 3
    ranking.put("late", 4, 3)
    assert [s.user_id for s in ranking.page(0, 5)] == ["a", "late"]
    assert ranking.rank("b") is None
