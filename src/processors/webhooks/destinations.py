"""Where webhooks may go: http(s) URLs whose host resolves to a public address, unless an
operator opens a range (``LAUREL_WEBHOOK_ALLOWED_CIDRS``).

The check runs twice: when an endpoint is configured (the Admin API answers 422 naming the
reason) and at every delivery, where :class:`CheckedTransport` resolves the host, checks the
address and connects to that address only (the ``Host`` header and TLS server name stay the
host's), so a DNS answer that changes between check and connect (rebinding) cannot redirect a
delivery inside the network. Redirects are not followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from typing import TypeAlias
from urllib.parse import urlsplit

import httpx

Address: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_URL = 2000
RESOLVE_TIMEOUT_S = 5.0
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


class RefusedDestination(Exception):
    """A destination that may not be reached; the message says why."""


def parse_cidrs(text: str) -> tuple[Network, ...]:
    """``"127.0.0.0/8,::1/128"`` → networks; raises ``ValueError`` naming a bad entry."""
    networks = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"{part!r} is not a CIDR range") from None
    return tuple(networks)


def refusal(address: Address, allowed: Sequence[Network] = ()) -> str | None:
    """Why ``address`` may not be reached (``None``: it may); IPv4-mapped IPv6 addresses are
    judged as the IPv4 address they carry."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address.version == n.version and address in n for n in allowed):
        return None
    for reason, refused in (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("shared (CGNAT)", address.version == 4 and address in _CGNAT),
        ("multicast", address.is_multicast),
        ("unspecified", address.is_unspecified),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("non-public", not address.is_global),
    ):
        if refused:
            return f"{reason} address {address}"
    return None


def url_problem(url: str) -> str | None:
    """What is wrong with ``url`` as a destination, before any lookup (``None``: nothing)."""
    if len(url) > MAX_URL:
        return f"url must be at most {MAX_URL} characters"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return "url must be an http or https URL"
    if not parts.hostname:
        return "url must name a host"
    try:
        _ = parts.port
    except ValueError:
        return "url has an invalid port"
    return None


class Destinations:
    """Resolves hosts and says which address a delivery may connect to."""

    def __init__(self, allowed: Sequence[Network] = ()) -> None:
        self.allowed = tuple(allowed)

    async def address(self, host: str, port: int) -> Address:
        """The first address of ``host`` that may be reached; raises
        :class:`RefusedDestination` naming why none may."""
        addresses = await _resolve(host, port)
        if not addresses:
            raise RefusedDestination(f"{host} does not resolve")
        reasons = []
        for address in addresses:
            reason = refusal(address, self.allowed)
            if reason is None:
                return address
            reasons.append(reason)
        raise RefusedDestination(
            f"{host} resolves to a {reasons[0]}, which webhooks may not reach "
            "(LAUREL_WEBHOOK_ALLOWED_CIDRS opens a range)"
        )

    async def problem(self, url: str) -> str | None:
        """What makes ``url`` unusable now (its form, or where it resolves), or ``None``."""
        problem = url_problem(url)
        if problem is not None:
            return problem
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            await self.address(parts.hostname or "", port)
        except RefusedDestination as exc:
            return f"url refused: {exc}"
        return None


async def _resolve(host: str, port: int) -> list[Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):  # no such host, or a name IDNA cannot encode
        return []
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


class CheckedTransport(httpx.AsyncBaseTransport):
    """An httpx transport that connects only to checked addresses (see the module)."""

    def __init__(
        self, destinations: Destinations, inner: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.destinations = destinations
        self.inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` to the checked address of its host."""
        url = request.url
        problem = url_problem(str(url))
        if problem is not None:
            raise RefusedDestination(problem)
        port = url.port or (443 if url.scheme == "https" else 80)
        address = await self.destinations.address(url.host, port)
        extensions = dict(request.extensions)
        if url.scheme == "https" and url.host != str(address):
            extensions["sni_hostname"] = url.host
        pinned = httpx.Request(
            request.method,
            url.copy_with(host=str(address)),
            headers=request.headers,  # Host stays the name
            stream=request.stream,
            extensions=extensions,
        )
        return await self.inner.handle_async_request(pinned)

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self.inner.aclose()


def checked_client(
    destinations: Destinations, timeout_s: float, max_connections: int
) -> httpx.AsyncClient:
    """The HTTP client deliveries go through: checked addresses, no redirects, at most
    ``max_connections`` open (a custom transport takes its own limits, not the client's)."""
    limits = httpx.Limits(max_connections=max_connections)
    return httpx.AsyncClient(
        transport=CheckedTransport(destinations, httpx.AsyncHTTPTransport(limits=limits)),
        timeout=timeout_s,
        follow_redirects=False,
    )
