"""User states kept in memory by the worker that holds their partition.

A batch needs the state of every user it names. Reading it from PostgreSQL is a fifth of a
batch's cost, and the state read is usually the one this worker wrote a moment ago. The cache
keeps what this worker committed, per partition, so that only users it has not seen (or has
forgotten: the cache is a bounded LRU) are read.

A cached state is only as good as the claim that nobody else wrote the user since. Every
command of a user is on the user's partition, and each batch locks its partitions' checkpoints
before reading; so the claim holds exactly while the locked checkpoint is the offset this
worker last committed there, in the same projection schema. Anything else — a second worker
that took the partition in a rebalance, a zombie worker that kept running after losing it, a
replay's switch to a new schema, a commit whose outcome was never learned — shows up as a
checkpoint this worker did not write, and the partition's entries are dropped before use.

A record that is not on its key's partition (a producer with another partitioner) breaks the
premise for that user: such users are never served from the cache, and their entries are
dropped when seen.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from aiokafka.partitioner import murmur2

from projections.core.model import UserKey, UserState

TopicPartition = tuple[str, int]


@functools.lru_cache(maxsize=65_536)
def home_partition(key: bytes, partitions: int) -> int:
    """The partition Kafka's default (murmur2) partitioner gives ``key``: Laurel's api and the
    documented producers put every record of a user there.

    Memoised: murmur2 is pure Python (3% of the batch step, twice per record), and the keys of
    active users recur."""
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


@dataclass(frozen=True, slots=True)
class _Entry:
    partition: TopicPartition
    generation: int
    state: UserState


class UserStateCache:
    """At most ``max_users`` user states, each valid while its partition's generation is.

    ``partitions`` is the commands topic's partition count, to tell a record on its key's
    partition from one that is not.
    """

    def __init__(self, max_users: int, partitions: int) -> None:
        self.max_users = max_users
        self.partitions = partitions
        self._entries: OrderedDict[UserKey, _Entry] = OrderedDict()
        self._written: dict[TopicPartition, tuple[str, int]] = {}
        """Per partition, the schema and offset of the last checkpoint this worker committed."""
        self._generations: dict[TopicPartition, int] = {}
        """Bumped whenever a partition's entries stop being trusted: entries of older
        generations are dead (and leave the LRU in their turn)."""
        self.hits = 0
        """States served (the tests read it)."""

    def __len__(self) -> int:
        return len(self._entries)

    def begin(self, schema: str, topic: str, checkpoints: Mapping[int, int]) -> CachedBatch:
        """Start a batch whose partitions' ``checkpoints`` are locked: drop every partition whose
        checkpoint is not the one this worker last committed in ``schema``."""
        generations: dict[int, int] = {}
        for partition, offset in checkpoints.items():
            tp = (topic, partition)
            if self._written.get(tp) != (schema, offset):
                self.drop((tp,))
            generations[partition] = self._generations.setdefault(tp, 0)
        return CachedBatch(self, schema, topic, generations)

    def at_home(self, key: bytes | None, partition: int) -> bool:
        """Whether a record with ``key`` belongs on ``partition`` (only such users are cached)."""
        return key is not None and home_partition(key, self.partitions) == partition

    def expected(
        self, schema: str, topic: str, homes: Mapping[UserKey, int | None]
    ) -> frozenset[UserKey]:
        """The users of ``homes`` (user: partition) whose states :meth:`begin` will let the
        batch take from the cache if the locked checkpoints are the ones this worker last
        committed in ``schema``: the batch need not read them with its lock. Nothing changes
        (no hit is counted, no entry moves)."""
        found: list[UserKey] = []
        for key, partition in homes.items():
            if partition is None:
                continue
            tp = (topic, partition)
            written, entry = self._written.get(tp), self._entries.get(key)
            if (
                written is not None
                and written[0] == schema
                and entry is not None
                and entry.partition == tp
                and entry.generation == self._generations[tp]
            ):
                found.append(key)
        return frozenset(found)

    def drop(self, partitions: Iterable[TopicPartition]) -> None:
        """Forget ``partitions`` (revoked, or written by someone else)."""
        for tp in partitions:
            self._written.pop(tp, None)
            self._generations[tp] = self._generations.get(tp, 0) + 1

    def _get(self, key: UserKey, tp: TopicPartition) -> UserState | None:
        entry = self._entries.get(key)
        if entry is None or entry.partition != tp or entry.generation != self._generations[tp]:
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry.state

    def _put(self, key: UserKey, tp: TopicPartition, generation: int, state: UserState) -> None:
        self._entries[key] = _Entry(tp, generation, state)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_users:
            self._entries.popitem(last=False)


class CachedBatch:
    """The cache as one batch sees it: read under the batch's locks, written after its commit."""

    def __init__(
        self, cache: UserStateCache, schema: str, topic: str, generations: Mapping[int, int]
    ) -> None:
        self._cache = cache
        self._schema = schema
        self._topic = topic
        self._generations = generations

    def get(self, key: UserKey, partition: int) -> UserState | None:
        """The user's cached state, or ``None`` when it must be read from the store."""
        return self._cache._get(key, (self._topic, partition))

    def forget(self, key: UserKey) -> None:
        """Drop the user's entry, wherever it is (its records are not all on one partition)."""
        self._cache._entries.pop(key, None)

    def committed(
        self, checkpoints: Mapping[int, int], states: Iterable[tuple[int, UserState]]
    ) -> None:
        """The batch committed ``checkpoints`` with ``states`` (partition, state) as their users'
        states: remember both, for partitions not dropped since :meth:`UserStateCache.begin`."""
        cache = self._cache
        live = {
            partition
            for partition, generation in self._generations.items()
            if cache._generations[(self._topic, partition)] == generation
        }
        for partition, offset in checkpoints.items():
            if partition in live:
                cache._written[(self._topic, partition)] = (self._schema, offset)
        for partition, state in states:
            if partition in live:
                generation = self._generations[partition]
                cache._put(state.key, (self._topic, partition), generation, state)
