from __future__ import annotations

from api.limits import RateLimiter


def test_bucket_allows_bursts_then_the_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=2, burst=3, clock=lambda: now[0])
    assert [limiter.take("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("k") == 0.5  # the fourth waits for half a second's refill
    assert limiter.take("other") == 0.0  # keys have their own buckets
    now[0] = 0.5
    assert limiter.take("k") == 0.0
    assert limiter.take("k") > 0
    now[0] = 100.0
    assert [limiter.take("k") for _ in range(3)] == [0.0, 0.0, 0.0]  # capped at the burst
    assert limiter.take("k") > 0


def test_zero_rate_disables_limiting() -> None:
    limiter = RateLimiter(rate=0, burst=1)
    assert all(limiter.take("k") == 0 for _ in range(1000))
