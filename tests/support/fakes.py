"""In-memory fakes of the adapters behind the HTTP edge, each subclassing what it stands in
for, so that :func:`api.app.create_app` runs in-process with no Kafka and no PostgreSQL.

A fake implements what the in-process tests reach (authentication, configuration, publishing):
reads and admin writes are tested against PostgreSQL (tests/integration, tests/e2e)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from api.app import Served
from api.application.leaderboards import Standings
from api.limits import RateLimiter
from ingest.contract import Command
from ingest.publisher import MemoryCommandPublisher
from ingest.service import Ingest
from ingest.waiter import OutcomeWaiter
from processors.webhooks.destinations import Destinations
from projections.core.model import ConfigHistory
from projections.store.config import CachedConfig, ConfigStore
from projections.store.documents import DocumentStore
from projections.store.keys import ApiKey, KeyKind, KeyStore, Tenant, new_key
from projections.store.ranking_cache import RankingCache
from projections.store.reads import ProjectionReader, StoredOutcome
from projections.store.webhooks import WebhookStore

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
_NO_POOL = cast(Any, None)  # the fakes never touch a connection pool


class MemoryKeyStore(KeyStore):
    """Keys and tenants in dictionaries; secrets are still kept only as their digest."""

    def __init__(self) -> None:
        super().__init__(_NO_POOL)
        self.keys: dict[str, tuple[ApiKey, str]] = {}
        self.registered: dict[str, Tenant] = {}

    def add(self, kind: KeyKind, tenant: str | None = None, user_id: str | None = None) -> str:
        """A new active key; returns its full text."""
        full, prefix, _ = new_key(kind)
        key = ApiKey(uuid.uuid4(), prefix, kind, tenant, user_id, "active", NOW)
        self.keys[prefix] = (key, full)
        return full

    def add_tenant(self, customer_id: str, status: str = "active") -> None:
        self.registered[customer_id] = Tenant(
            uuid.uuid4(), customer_id, customer_id.title(), status, NOW, NOW
        )

    async def verify(self, presented: str) -> ApiKey | None:
        found = self.keys.get(presented.partition(".")[0])
        return found[0] if found is not None and found[1] == presented else None

    async def tenant(self, customer_id: str) -> Tenant | None:
        return self.registered.get(customer_id)

    async def has_admin(self) -> bool:
        return any(key.kind == "admin" for key, _ in self.keys.values())


class MemoryConfigStore(ConfigStore):
    """One configuration per tenant, set by the test."""

    def __init__(self) -> None:
        super().__init__(_NO_POOL)
        self.by_tenant: dict[str, ConfigHistory] = {}

    async def current(self, tenant: str, at: datetime) -> ConfigHistory:
        return self.by_tenant.get(tenant, ConfigHistory())


class MemoryReader(ProjectionReader):
    """A projection no command has reached yet: every outcome is still unknown."""

    def __init__(self) -> None:
        super().__init__(_NO_POOL)

    async def outcomes(self, keys: Iterable[tuple[str, uuid.UUID]]) -> list[StoredOutcome]:
        return []


class FailingPublisher(MemoryCommandPublisher):
    """A publisher whose broker is down: every publish raises ``error``."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    async def publish(self, command: Command) -> None:
        raise self.error

    async def publish_many(self, commands: Sequence[Command]) -> None:
        raise self.error


@dataclass
class FakeEdge:
    """What an in-process app is built from; tests set configuration, keys and tenants."""

    publisher: MemoryCommandPublisher = field(default_factory=MemoryCommandPublisher)
    keys: MemoryKeyStore = field(default_factory=MemoryKeyStore)
    config: MemoryConfigStore = field(default_factory=MemoryConfigStore)
    sync_timeout_s: float = 0.05
    rate_per_s: float = 0.0
    burst: int = 1
    max_body_bytes: int = 64 * 1024

    def served(self) -> Served:
        reader = MemoryReader()
        cached = CachedConfig(self.config)
        ingest = Ingest(
            self.publisher,
            OutcomeWaiter(reader),
            self.config,
            DocumentStore(_NO_POOL),
            cached,
            reader,
            lambda: NOW,
            self.sync_timeout_s,
        )
        return Served(
            ingest=ingest,
            standings=Standings(reader, cached, RankingCache(_NO_POOL), lambda: NOW),
            keys=self.keys,
            limiter=RateLimiter(self.rate_per_s, self.burst),
            max_body_bytes=self.max_body_bytes,
            clock=lambda: NOW,
            webhooks=WebhookStore(_NO_POOL),
            check_url=Destinations().problem,
        )
