"""The clock port: where the write path and the processors get "now".

The composition roots hand each process its clock (:func:`laurel.clock.clock_for`: the system
clock, or a file's instant in tests); nothing else reads the time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

Clock = Callable[[], datetime]
"""Returns the current instant, with its UTC offset."""
