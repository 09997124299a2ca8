"""Natural batching: a batch is what has accumulated, never a wait for more."""

from __future__ import annotations

import asyncio

from processors.app import take_accumulated


async def test_a_batch_takes_what_accumulated_up_to_the_most() -> None:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(7):
        queue.put_nowait(i)
    assert await take_accumulated(queue, 5) == [0, 1, 2, 3, 4]
    assert await take_accumulated(queue, 5) == [5, 6]  # no wait for the batch to fill


class WatchedQueue(asyncio.Queue[int]):
    """A queue that tells when someone waits on it."""

    def __init__(self) -> None:
        super().__init__()
        self.waited_on = asyncio.Event()

    async def get(self) -> int:
        self.waited_on.set()
        return await super().get()


async def test_an_idle_stream_gets_its_one_event_folded_at_once() -> None:
    queue = WatchedQueue()
    taking = asyncio.create_task(take_accumulated(queue, 500))
    await asyncio.wait_for(queue.waited_on.wait(), 5)
    assert not taking.done()  # nothing yet: it waits for the first event only
    queue.put_nowait(42)
    assert await asyncio.wait_for(taking, 5) == [42]
