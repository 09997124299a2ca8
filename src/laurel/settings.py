"""One typed settings object per process, read once from the environment.

Every variable is ``LAUREL_<FIELD>`` except the two connection strings, which also accept the
conventional ``KAFKA_BOOTSTRAP_SERVERS`` and ``DATABASE_URL``. Nothing else in Laurel reads
``os.environ``.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from laurel.errors import ConfigurationError
from processors.webhooks.destinations import parse_cidrs
from processors.webhooks.retry import parse_schedule

Port = Annotated[int, Field(ge=1, le=65535)]


def default_home() -> Path:
    """Where the local stack keeps its data, logs and pid files.

    ``/var/lib/laurel`` for root (PostgreSQL runs as an unprivileged user and must reach its
    data directory, which ``/root`` forbids); ``$XDG_DATA_HOME/laurel`` or
    ``~/.local/share/laurel`` for everyone else.
    """
    if os.geteuid() == 0:
        return Path("/var/lib/laurel")
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "laurel"


def default_cache() -> Path:
    """Where downloaded artefacts (the Kafka jars) are cached between stacks."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "laurel"


class Settings(BaseSettings):
    """Laurel's settings; see the README's configuration table for each variable."""

    model_config = SettingsConfigDict(env_prefix="LAUREL_", frozen=True, extra="ignore")

    home: Path = Field(default_factory=default_home)
    cache_dir: Path = Field(default_factory=default_cache)

    kafka_bootstrap_servers: str | None = Field(
        default=None,
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "LAUREL_KAFKA_BOOTSTRAP_SERVERS"),
    )
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "LAUREL_DATABASE_URL")
    )

    api_host: str = "127.0.0.1"
    api_port: Port = 8080
    ops_host: str = "127.0.0.1"
    """Where the processor, the ranker and the webhooks process serve /metrics and /health/*."""
    ops_port: Port = 9100
    """The port they serve them on (``laurel up`` gives each process its own, from this one)."""
    access_log: bool = False
    """The api logs one line per request (method, path, route, status, time, request id)."""
    log_format: Literal["text", "json"] = "text"
    """``json``: one JSON object per log line, with the request or command id it concerns."""
    kafka_port: Port = 19092
    kafka_controller_port: Port = 19093
    kafka_version: str = "4.1.1"
    kafka_heap: str = "512m"
    postgres_port: Port = 15432
    postgres_bin_dir: Path | None = None

    commands_topic: str = "laurel.commands.v1"
    dead_letter_topic: str = "laurel.commands.v1.dlq"
    partitions: int = Field(default=6, ge=1, le=1024)
    topic_replicas: int | None = Field(default=None, ge=1, le=7)
    """Replicas of a new topic; unset: the number of brokers, at most 3."""
    topic_min_insync_replicas: int | None = Field(default=None, ge=1, le=7)
    """``min.insync.replicas`` of a new topic; unset: 2 with 3 replicas or more, else 1."""
    kafka_brokers: int = Field(default=1, ge=1, le=5)
    """Nodes of the local stack's Kafka cluster (``laurel up --brokers``)."""
    processors: int = Field(default=1, ge=1, le=64)
    """Processor workers the local stack runs (``laurel up --processors``)."""
    processor_group: str = "laurel-processor"
    processor_batch_max: int = Field(default=500, ge=1, le=100_000)
    api_producer_linger_ms: int = Field(default=0, ge=0, le=1_000)
    """How long the api's producer waits to fill a batch before sending (0: send at once)."""
    processor_cache_users: int = Field(default=100_000, ge=0)
    """User states the processor keeps in memory (an LRU; 0 turns the cache off)."""
    processor_session_timeout_s: float = Field(default=10.0, ge=1.0)
    processor_gc_threshold: int = Field(default=100_000, ge=0)
    """Net allocations between the processor's young garbage collections (0: Python's 700)."""

    environment: str = Field(default="Production", min_length=1, max_length=64)
    """This installation's environment name, listed by GET /admin/v1/environments."""
    bootstrap_admin_key: SecretStr | None = None
    """An admin key the api stores at start if its prefix is new (``laurel up`` makes one)."""

    rate_limit_per_s: float = Field(default=2000.0, ge=0.0)
    """Requests a second per API key and api process; 0 turns limiting off."""
    rate_limit_burst: int = Field(default=4000, ge=1)
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    """The largest request body accepted (a batch of 1,000 events fits easily)."""

    sync_timeout_s: float = Field(default=5.0, ge=0.0, le=120.0)
    scheduler_interval_s: float = Field(default=10.0, ge=0.0, le=3600.0)
    """How often the processor's leader looks for users with something due (0 turns the
    scheduler off)."""
    scheduler_resend_after_s: float = Field(default=60.0, ge=0.0, le=86_400.0)
    """How long the leader waits before sending again a tick for a user still due (their first
    tick not applied yet: the processor lags); 0 sends it every round."""
    ranker_interval_s: float = Field(default=2.0, gt=0.0, le=3600.0)
    """How often the leading ``laurel ranker`` observes the ranks of changed leaderboard entries,
    finalises runs and announces the clock's webhooks (and a standby checks whether to lead)."""
    rank_change_every_s: float = Field(default=900.0, ge=0.0, le=86_400.0)
    """A participant's rank change on a board is written at most this often (Trophy's
    ``leaderboard.rank_changed``: 15 minutes); changes in between wait for the window's end."""
    webhook_retry_schedule: str = "5,300,1800,7200,18000,36000,36000"
    """Seconds before each retry of a failed delivery, comma-separated (Svix's schedule; each
    delay gets ±20 % jitter, and a longer ``Retry-After`` wins)."""
    webhook_timeout_s: float = Field(default=30.0, gt=0.0, le=300.0)
    """How long a receiver has to answer before the attempt counts as failed."""
    webhook_allowed_cidrs: str = ""
    """Address ranges webhooks may reach although they are not public (loopback, private...),
    comma-separated: for tests and private networks."""
    webhook_disable_after_s: float = Field(default=5 * 86_400.0, gt=0.0)
    """An endpoint with no successful delivery for this long is disabled."""
    webhook_retention_days: float = Field(default=30.0, gt=0.0)
    """How long messages and their deliveries log are kept."""
    webhook_concurrency: int = Field(default=32, ge=1, le=1024)
    """Deliveries a webhooks process sends at once."""
    clock_file: Path | None = None
    """Tests and demos only: read the current time from this file (see laurel.clock)."""
    db_pool_max: int = Field(default=10, ge=1, le=1000)

    @field_validator("webhook_retry_schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        parse_schedule(value)
        return value

    @field_validator("webhook_allowed_cidrs")
    @classmethod
    def _cidrs(cls, value: str) -> str:
        parse_cidrs(value)
        return value

    @field_validator("kafka_bootstrap_servers", "database_url")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value or None

    @cached_property
    def bootstrap_servers(self) -> str:
        """The Kafka bootstrap list: the configured one or the local stack's broker."""
        return self.kafka_bootstrap_servers or f"127.0.0.1:{self.kafka_port}"

    def require_database_url(self) -> str:
        """The database URL, or a :class:`ConfigurationError` naming the variable."""
        if not self.database_url:
            raise ConfigurationError(
                "DATABASE_URL is not set: point it at PostgreSQL "
                "(`laurel up` sets it for the processes it starts)"
            )
        return self.database_url


def load_settings(**overrides: object) -> Settings:
    """Read the settings once, turning validation errors into a message naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"LAUREL_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigurationError(f"invalid settings: {problems}") from exc


def child_environment(**extra: str) -> dict[str, str]:
    """This process's environment plus ``extra``, for the processes ``laurel up`` starts."""
    return {**os.environ, **extra}
