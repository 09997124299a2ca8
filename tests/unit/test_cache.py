from __future__ import annotations

import asyncio

from projections.store.cache import InvalidatedCache


async def test_values_are_loaded_once_and_dropped_on_forget() -> None:
    loads = []
    cache: InvalidatedCache[str, int] = InvalidatedCache()

    async def load() -> int:
        loads.append(1)
        return len(loads)

    assert await cache.get("a", load) == 1
    assert await cache.get("a", load) == 1
    cache.forget("a")
    assert await cache.get("a", load) == 2


async def test_a_load_overtaken_by_an_invalidation_is_not_kept() -> None:
    cache: InvalidatedCache[str, str] = InvalidatedCache()
    started, release = asyncio.Event(), asyncio.Event()

    async def slow_stale() -> str:
        started.set()
        await release.wait()
        return "stale"

    async def fresh() -> str:
        return "fresh"

    pending = asyncio.create_task(cache.get("k", slow_stale))
    await started.wait()
    cache.forget()  # the notification arrives while the stale load is in flight
    release.set()
    assert await pending == "stale"  # its caller still gets an answer...
    assert await cache.get("k", fresh) == "fresh"  # ...but it was not kept
