"""The pure parts of webhook delivery: signatures, the retry schedule, which addresses may be
reached, and the transport connecting only to the address it checked (against a real loopback
receiver)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import random
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from processors.webhooks.destinations import (
    CheckedTransport,
    Destinations,
    RefusedDestination,
    parse_cidrs,
    refusal,
    url_problem,
)
from processors.webhooks.metrics import DeliveryMetrics
from processors.webhooks.retry import SVIX_SCHEDULE, parse_retry_after, parse_schedule, retry_in
from processors.webhooks.signing import signed_headers
from projections.store.webhooks import Attempt, new_secret
from tests.support.receiver import receiving

AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
BODY = b'{"type":"streak.lost","length":3}'


def test_headers_verify_with_the_standard_webhooks_library_and_trophys_hmac() -> None:
    secret = new_secret()
    headers = signed_headers("msg_1", BODY, [secret], datetime.now(UTC))
    assert Webhook(secret).verify(BODY, headers) == {"type": "streak.lost", "length": 3}
    expected = hmac.new(secret.encode(), BODY, hashlib.sha256).digest()
    assert headers["X-Trophy-Signature"] == base64.b64encode(expected).decode()
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY + b" ", headers)


def test_during_rotation_both_secrets_sign_and_trophys_header_uses_the_new_one() -> None:
    new, old = new_secret(), new_secret()
    headers = signed_headers("msg_2", BODY, [new, old], datetime.now(UTC))
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(new).verify(BODY, headers)
    Webhook(old).verify(BODY, headers)
    expected = hmac.new(new.encode(), BODY, hashlib.sha256).digest()
    assert headers["X-Trophy-Signature"] == base64.b64encode(expected).decode()


def test_secrets_are_whsec_and_32_random_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert secret != new_secret()


def test_the_schedule_is_svixs_with_jitter_and_then_gives_up() -> None:
    assert parse_schedule("5,300,1800,7200,18000,36000,36000") == SVIX_SCHEDULE
    rng = random.Random(7)
    delays = [retry_in(SVIX_SCHEDULE, attempt, rng=rng) for attempt in range(1, 8)]
    for delay, nominal in zip(delays, SVIX_SCHEDULE, strict=True):
        assert delay is not None
        assert nominal * 0.8 <= delay <= nominal * 1.2
    assert retry_in(SVIX_SCHEDULE, 8) is None
    assert retry_in((5.0,), 1, retry_after=120.0) == 120.0  # a longer Retry-After wins
    with pytest.raises(ValueError, match="'soon' is not a number"):
        parse_schedule("5,soon")


def test_retry_after_as_seconds_or_an_http_date() -> None:
    assert parse_retry_after("30", AT) == 30.0
    later = (AT + timedelta(minutes=2)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after(later, AT) == 120.0
    assert parse_retry_after("whenever", AT) is None
    assert parse_retry_after(None, AT) is None


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped: judged as the IPv4 address
        ("10.0.0.8", "private"),
        ("172.16.3.4", "private"),
        ("192.168.1.1", "private"),
        ("fd12::1", "private"),
        ("100.64.0.1", "shared (CGNAT)"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("fe80::1", "link-local"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_non_public_addresses_are_refused(address: str, reason: str | None) -> None:
    found = refusal(ipaddress.ip_address(address))
    assert (found.split(" address")[0] if found else None) == reason


def test_allowed_ranges_open_only_themselves() -> None:
    allowed = parse_cidrs("127.0.0.0/8, 10.1.0.0/16")
    assert refusal(ipaddress.ip_address("127.0.0.1"), allowed) is None
    assert refusal(ipaddress.ip_address("::ffff:127.0.0.1"), allowed) is None
    assert refusal(ipaddress.ip_address("10.1.2.3"), allowed) is None
    assert refusal(ipaddress.ip_address("10.2.0.1"), allowed) is not None
    assert refusal(ipaddress.ip_address("::1"), allowed) is not None
    with pytest.raises(ValueError, match="'nope' is not a CIDR range"):
        parse_cidrs("nope")


def test_urls_must_be_http_with_a_host() -> None:
    assert url_problem("ftp://example.com/x") == "url must be an http or https URL"
    assert url_problem("https:///path") == "url must name a host"
    assert url_problem("http://example.com:99999/") == "url has an invalid port"
    assert url_problem("https://example.com/hooks") is None


async def test_configuration_names_why_an_address_is_refused() -> None:
    problem = await Destinations().problem("http://localhost:9/hook")
    assert problem is not None
    assert "loopback address" in problem
    assert "LAUREL_WEBHOOK_ALLOWED_CIDRS" in problem
    assert await Destinations(parse_cidrs("127.0.0.0/8")).problem("http://localhost:9/") is None
    assert await Destinations().problem("http://no-such-host.invalid/") == (
        "url refused: no-such-host.invalid does not resolve"
    )


async def test_the_transport_refuses_loopback_unless_allowed_and_then_connects() -> None:
    with receiving() as receiver:
        url = receiver.on("/hook")
        async with httpx.AsyncClient(transport=CheckedTransport(Destinations())) as client:
            with pytest.raises(RefusedDestination, match="loopback"):
                await client.post(url, content=b"{}")
        assert receiver.at("/hook") == []
        allowed = Destinations(parse_cidrs("127.0.0.0/8"))
        async with httpx.AsyncClient(transport=CheckedTransport(allowed)) as client:
            named = url.replace("127.0.0.1", "localhost")
            answer = await client.post(named, content=b"{}")
        assert answer.status_code == 200
        (request,) = receiver.at("/hook")
        assert request.headers["host"] == f"localhost:{receiver.port}"  # the name, not the IP


def test_attempts_are_counted_by_state_with_their_latency_and_the_attempts_to_finish() -> None:
    metrics = DeliveryMetrics()
    metrics.attempted(Attempt(500, "HTTP 500", 120.0, retry_in_s=5.0), attempts=1)
    metrics.attempted(Attempt(200, None, 30.0, None), attempts=2)
    metrics.attempted(Attempt(410, "HTTP 410", 10.0, None, disable="410 Gone"), attempts=1)
    metrics.waiting(7, 42.5)

    def sample(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(name, labels)

    assert sample("laurel_webhook_attempts_total", state="pending") == 1
    assert sample("laurel_webhook_attempts_total", state="delivered") == 1
    assert sample("laurel_webhook_attempts_total", state="failed") == 1
    assert sample("laurel_webhook_attempt_duration_seconds_count") == 3
    assert sample("laurel_webhook_attempt_duration_seconds_sum") == pytest.approx(0.16)
    # the retried one is counted once, when it finishes, with its two attempts
    assert sample("laurel_webhook_delivery_attempts_count") == 2
    assert sample("laurel_webhook_delivery_attempts_sum") == 3
    assert sample("laurel_webhook_backlog") == 7
    assert sample("laurel_webhook_backlog_age_seconds") == 42.5
