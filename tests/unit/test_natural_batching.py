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


async def test_an_idle_stream_gets_its_one_event_folded_at_once() -> None:
    queue: asyncio.Queue[int] = asyncio.Queue()
    taking = asyncio.create_task(take_accumulated(queue, 500))
    await asyncio.sleep(0)
    assert not taking.done()  # nothing yet: it waits for the first event only
    queue.put_nowait(42)
    assert await asyncio.wait_for(taking, 5) == [42]
