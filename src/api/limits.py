"""Per-key rate limiting: a token bucket per API key, per api process."""

from __future__ import annotations

import time
from collections.abc import Callable


class RateLimiter:
    """Allows ``rate`` requests a second per key with bursts of up to ``burst``.

    ``rate`` 0 disables limiting. Counts are per api process: with N processes behind a load
    balancer a key may make up to N times as many requests.
    """

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, key: str) -> float:
        """Spend one token for ``key``: 0 when allowed, else the seconds until one is free."""
        if self.rate <= 0:
            return 0.0
        now = self._clock()
        tokens, at = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate
        self._buckets[key] = (tokens - 1.0, now)
        return 0.0
