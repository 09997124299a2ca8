"""How the processor runs Python's cyclic garbage collector.

A batch allocates hundreds of thousands of short-lived objects (frozen states, effects, JSON
bodies) while the worker holds a large long-lived heap (the user-state cache, configuration,
Faust and aiokafka). With Python's default threshold (a young collection every 700 net
allocations, and older ones scanning the long-lived heap in turn) the collector was a fifth of
the batch step. The rules' values have no reference cycles — reference counting frees them —
so collecting rarely loses nothing but a little memory held a little longer.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

OLDER_GENERATIONS = (50, 50)
"""Young collections between middle ones, middle ones between full ones (Python's are 10, 10)."""


def tune_collector(young: int) -> None:
    """Collect the youngest generation every ``young`` net allocations (0 keeps Python's default
    threshold), and move everything allocated so far — modules, the app, settings — out of the
    collector's sight (:func:`gc.freeze`), so full collections do not scan it again."""
    if young > 0:
        gc.set_threshold(young, *OLDER_GENERATIONS)
    gc.freeze()


@contextmanager
def tuned_collector(young: int) -> Iterator[None]:
    """:func:`tune_collector` for the duration of a block (a benchmark measuring the batch step
    as the processor runs it), then the collector as it was."""
    before = gc.get_threshold()
    tune_collector(young)
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
