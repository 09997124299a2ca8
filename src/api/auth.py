"""Who is calling: the X-API-KEY and Tenant-ID headers turned into a principal, per request.

* No key, or a key that is unknown, malformed or revoked: 401.
* An application key (scoped to one user of one tenant) on the Admin API, on another user, or
  with another tenant's Tenant-ID: 403.
* A Tenant-ID that names no active tenant: 404 (create it with ``POST /admin/v1/tenants``).

* More requests a second than the key's rate limit allows: 429 with ``Retry-After``.

The key store and the limiter live on ``app.state.keys`` and ``app.state.limiter``, set by the
composition root.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from api.limits import RateLimiter
from api.requests import MAX_TENANT_LENGTH, fail
from projections.store.keys import ApiKey, KeyStore


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: its key, and the tenant it acts in."""

    key: ApiKey
    tenant: str
    """The tenant the request acts in: ``""`` is the default tenant."""

    @property
    def user_id(self) -> str | None:
        """The only user an application key may act for; ``None`` for admin keys."""
        return self.key.user_id

    def require_user(self, user_id: str) -> None:
        """Refuse (403) an application key acting for another user."""
        if self.key.user_id is not None and self.key.user_id != user_id:
            fail(403, f"this application API key may act only for user {self.key.user_id!r}")


async def principal(
    request: Request,
    api_key: Annotated[str | None, Header(alias="X-API-KEY")] = None,
    tenant: Annotated[str | None, Header(alias="Tenant-ID", description="Your tenant id")] = None,
) -> Principal:
    """Authenticate the request (401), rate-limit its key (429) and resolve its tenant (400, 403,
    404)."""
    keys: KeyStore = request.app.state.keys
    if not api_key:
        fail(401, "X-API-KEY header is required")
    key = await keys.verify(api_key)
    if key is None:
        fail(401, "invalid or revoked API key")
    limiter: RateLimiter = request.app.state.limiter
    wait = limiter.take(key.prefix)
    if wait > 0:
        raise HTTPException(
            status_code=429,
            detail=f"rate limit of {limiter.rate:g} requests/s for this key exceeded",
            headers={"Retry-After": str(math.ceil(wait))},
        )
    if tenant is not None and (
        not tenant.strip() or len(tenant) > MAX_TENANT_LENGTH or "\x00" in tenant
    ):
        fail(400, f"Tenant-ID must be 1 to {MAX_TENANT_LENGTH} non-blank characters")
    if key.kind == "application":
        key_tenant = key.tenant or ""
        if tenant is not None and tenant != key_tenant:
            fail(403, "this application API key belongs to another tenant")
        found = Principal(key, key_tenant)
        path_user = request.path_params.get("id")
        if request.url.path.startswith("/v1/users/") and path_user is not None:
            found.require_user(str(path_user))
        return found
    if tenant is None:
        return Principal(key, "")
    registered = await keys.tenant(tenant)
    if registered is None or registered.status != "active":
        fail(404, f"tenant {tenant!r} not found: create it with POST /admin/v1/tenants")
    return Principal(key, tenant)


async def admin_principal(found: Annotated[Principal, Depends(principal)]) -> Principal:
    """The caller, who must hold an admin key (403 otherwise)."""
    if found.key.kind != "admin":
        fail(403, "application API keys work only on the Application API")
    return found


CurrentPrincipal = Annotated[Principal, Depends(principal)]


async def tenant_of(found: CurrentPrincipal) -> str:
    """The tenant the caller acts in."""
    return found.tenant


Tenant = Annotated[str, Depends(tenant_of)]
"""The tenant a route acts in (declaring it also authenticates the request)."""
