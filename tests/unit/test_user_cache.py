"""The user-state cache's rules: trusted only after this worker's own checkpoint, bounded, and
never serving a user whose records are off their key's partition."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner

from ingest.contract import record_key
from processors.user_cache import UserStateCache, home_partition
from projections.core.model import UserState

TOPIC = "commands"


def state(user: str) -> UserState:
    return UserState("", user)


def test_home_partition_is_the_one_aiokafka_picks() -> None:
    for i in range(200):
        key = record_key("", f"user-{i}")
        assert home_partition(key, 6) == DefaultPartitioner()(key, list(range(6)), [])


def test_states_are_served_only_while_the_checkpoint_is_the_one_this_worker_wrote() -> None:
    cache = UserStateCache(10, 1)
    batch = cache.begin("s1", TOPIC, {0: -1})
    batch.committed({0: 4}, [(0, state("ada"))])
    assert cache.begin("s1", TOPIC, {0: 4}).get(("", "ada"), 0) == state("ada")
    assert cache.begin("s1", TOPIC, {0: 9}).get(("", "ada"), 0) is None  # someone else wrote
    assert cache.begin("s1", TOPIC, {0: 4}).get(("", "ada"), 0) is None  # and it stays dropped


def test_another_schema_or_a_revocation_drops_the_partition() -> None:
    cache = UserStateCache(10, 2)
    cache.begin("s1", TOPIC, {0: -1, 1: -1}).committed(
        {0: 3, 1: 5}, [(0, state("ada")), (1, state("bob"))]
    )
    assert cache.begin("s2", TOPIC, {0: 3}).get(("", "ada"), 0) is None  # a replay's switch
    cache.drop([(TOPIC, 1)])
    assert cache.begin("s1", TOPIC, {1: 5}).get(("", "bob"), 1) is None


def test_a_commit_after_a_revocation_is_not_remembered() -> None:
    cache = UserStateCache(10, 1)
    batch = cache.begin("s1", TOPIC, {0: -1})
    cache.drop([(TOPIC, 0)])  # revoked while the batch was in flight
    batch.committed({0: 7}, [(0, state("ada"))])
    assert len(cache) == 0
    assert cache.begin("s1", TOPIC, {0: 7}).get(("", "ada"), 0) is None


def test_the_least_recently_used_states_leave_first() -> None:
    cache = UserStateCache(2, 1)
    cache.begin("s", TOPIC, {0: -1}).committed({0: 1}, [(0, state("a")), (0, state("b"))])
    assert cache.begin("s", TOPIC, {0: 1}).get(("", "a"), 0) is not None  # a is now recent
    cache.begin("s", TOPIC, {0: 1}).committed({0: 2}, [(0, state("c"))])
    batch = cache.begin("s", TOPIC, {0: 2})
    assert len(cache) == 2
    assert batch.get(("", "b"), 0) is None
    assert batch.get(("", "a"), 0) is not None
    assert batch.get(("", "c"), 0) is not None


def test_a_user_seen_on_another_partition_is_not_served_from_there() -> None:
    cache = UserStateCache(10, 2)
    key = record_key("", "ada")
    home = home_partition(key, 2)
    batch = cache.begin("s", TOPIC, {0: -1, 1: -1})
    assert cache.at_home(key, home)
    assert not cache.at_home(key, 1 - home)
    assert not cache.at_home(None, home)
    batch.committed({home: 0}, [(home, state("ada"))])
    other = cache.begin("s", TOPIC, {0: 0 if home == 0 else -1, 1: 0 if home == 1 else -1})
    assert other.get(("", "ada"), 1 - home) is None
    other.forget(("", "ada"))
    assert len(cache) == 0


def test_expected_names_the_users_begin_will_serve_if_the_checkpoints_are_its_own() -> None:
    cache = UserStateCache(10, 2)
    cache.begin("s1", TOPIC, {0: -1, 1: -1}).committed(
        {0: 4, 1: 7}, [(0, state("ada")), (1, state("bob"))]
    )
    homes = {("", "ada"): 0, ("", "bob"): 1, ("", "cy"): 0, ("", "dee"): None}
    assert cache.expected("s1", TOPIC, homes) == {("", "ada"), ("", "bob")}
    assert cache.hits == 0  # only a look
    assert cache.expected("s2", TOPIC, homes) == frozenset()  # another projection schema
    assert cache.expected("s1", TOPIC, {("", "ada"): 1}) == frozenset()  # not where it lives
    cache.begin("s1", TOPIC, {1: 8})  # somebody else wrote partition 1
    assert cache.expected("s1", TOPIC, homes) == {("", "ada")}
