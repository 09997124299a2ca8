"""One delivery attempt: POST the signed body, and turn what happened into an
:class:`~projections.store.webhooks.Attempt` (errors as data, never raised)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime

import httpx
import orjson

from processors.webhooks.destinations import RefusedDestination
from processors.webhooks.retry import parse_retry_after, retry_in
from processors.webhooks.signing import signed_headers
from projections.store.webhooks import Attempt, Claimed

USER_AGENT = "Laurel-Webhooks/1"
_MAX_ERROR = 500
MAX_ANSWER_BYTES = 64 * 1024


async def send(
    client: httpx.AsyncClient, claimed: Claimed, schedule: Sequence[float], now: datetime
) -> Attempt:
    """Deliver ``claimed`` once through ``client`` (whose timeout applies)."""
    body = orjson.dumps(claimed.body)
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        **signed_headers(claimed.message_id, body, claimed.endpoint.signing_secrets(now), now),
    }
    started = time.perf_counter()
    try:
        async with client.stream(
            "POST", claimed.endpoint.url, content=body, headers=headers
        ) as response:
            await _drain(response)
    except RefusedDestination as exc:  # the host now resolves somewhere it may not go
        return _failed(claimed, None, str(exc), started, schedule)
    except httpx.TimeoutException as exc:
        return _failed(claimed, None, f"timed out ({type(exc).__name__})", started, schedule)
    except httpx.HTTPError as exc:
        return _failed(claimed, None, f"{type(exc).__name__}: {exc}", started, schedule)
    latency = _ms(started)
    status = response.status_code
    if 200 <= status < 300:
        return Attempt(status, None, latency, None)
    error = f"HTTP {status}"
    if status == 410:
        return Attempt(status, error, latency, None, disable=f"{claimed.endpoint.url} answered 410")
    retry_after = parse_retry_after(response.headers.get("retry-after"), datetime.now(UTC))
    return _failed(claimed, status, error, started, schedule, retry_after)


async def _drain(response: httpx.Response) -> None:
    """Read (and drop) the answer's body, so that the connection can be reused, but no more
    than :data:`MAX_ANSWER_BYTES`: a receiver cannot make the sender hold a large answer."""
    read = 0
    async for chunk in response.aiter_raw():
        read += len(chunk)
        if read > MAX_ANSWER_BYTES:
            break  # the connection is closed instead of reused


def _failed(
    claimed: Claimed,
    status: int | None,
    error: str,
    started: float,
    schedule: Sequence[float],
    retry_after: float | None = None,
) -> Attempt:
    delay = retry_in(schedule, claimed.attempts, retry_after)
    return Attempt(status, error[:_MAX_ERROR], _ms(started), delay)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
