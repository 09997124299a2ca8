"""A read-through cache that an invalidation always wins against."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class InvalidatedCache(Generic[K, V]):
    """Values loaded on first use and kept until :meth:`forget`.

    A value whose load was still running when an invalidation arrived is returned to its
    caller but not kept, so a stale read can never outlive the notification that retired it.
    """

    def __init__(self) -> None:
        self._values: dict[K, V] = {}
        self._generation = 0

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """The value for ``key``, loaded with ``load`` on first use."""
        if key in self._values:
            return self._values[key]
        generation = self._generation
        value = await load()
        if generation == self._generation:
            self._values[key] = value
        return value

    def forget(self, key: K | None = None) -> None:
        """Drop ``key`` (or everything) and void the loads in flight."""
        self._generation += 1
        if key is None:
            self._values.clear()
        else:
            self._values.pop(key, None)
