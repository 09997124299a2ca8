"""Real Kafka and PostgreSQL for the tests, from the first source that is available:

1. ``KAFKA_BOOTSTRAP_SERVERS`` and ``DATABASE_URL`` (services someone runs for us);
2. testcontainers, when a Docker engine answers;
3. the same local processes ``laurel up`` runs, in a temporary home on free ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import conninfo, sql

from laurel.settings import Settings, load_settings
from laurel.stack import prereqs
from laurel.stack.kafka import KafkaBroker, KafkaCluster
from laurel.stack.postgres import PostgresCluster
from laurel.stack.preflight import in_use
from laurel.topics import ensure_topics
from projections.store.migrate import migrate


@dataclass(frozen=True)
class Infra:
    bootstrap_servers: str
    admin_database_url: str
    """A URL whose user may CREATE DATABASE."""
    source: str


@dataclass(frozen=True)
class Namespace:
    """What one test (or module) owns alone: a database, topics and a consumer group."""

    bootstrap_servers: str
    database_url: str
    commands_topic: str
    dead_letter_topic: str
    group: str
    partitions: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_port_block(offsets: Sequence[int]) -> int:
    """A base port such that ``base + o`` is free for every offset (for services that derive
    ports from one setting, as ``laurel up`` does), below the kernel's ephemeral range, whose
    ports outgoing connections take at any moment."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20_000, 30_000)
        if not any(in_use("127.0.0.1", base + offset) for offset in offsets):
            return base
    raise RuntimeError(f"no block of free ports {list(offsets)} found")


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
        return True
    except Exception:
        return False


@contextlib.contextmanager
def _containers() -> Iterator[Infra]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    with KafkaContainer().with_kraft() as kafka, PostgresContainer(driver=None) as pg:
        yield Infra(kafka.get_bootstrap_server(), pg.get_connection_url(), "testcontainers")


@contextlib.contextmanager
def _local(settings: Settings) -> Iterator[Infra]:
    home = Path(tempfile.mkdtemp(prefix="laurel-test-"))
    home.chmod(0o755)  # the postgres user must traverse it when we run as root
    broker = KafkaBroker(
        home, settings.cache_dir, settings.kafka_version, free_port(), free_port(), heap="512m"
    )
    bin_dir = prereqs.postgres_bin_dir(settings.postgres_bin_dir)
    assert bin_dir is not None, "PostgreSQL server binaries are required for the tests"
    cluster = PostgresCluster(home, bin_dir, free_port())
    try:
        broker.start()
        cluster.start()
        yield Infra(broker.bootstrap, cluster.url("postgres"), f"local processes in {home}")
    finally:
        cluster.stop()
        broker.stop()


@contextlib.contextmanager
def kafka_cluster(size: int = 3) -> Iterator[KafkaCluster]:
    """A private Kafka cluster of ``size`` KRaft nodes on free ports, as ``laurel up
    --brokers`` runs one."""
    settings = load_settings()
    home = Path(tempfile.mkdtemp(prefix="laurel-cluster-"))
    ports = [(free_port(), free_port()) for _ in range(size)]
    cluster = KafkaCluster.on_ports(
        home, settings.cache_dir, settings.kafka_version, ports, heap="384m"
    )
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@contextlib.contextmanager
def provide_infra() -> Iterator[Infra]:
    settings = load_settings()
    if settings.kafka_bootstrap_servers and settings.database_url:
        yield Infra(settings.kafka_bootstrap_servers, settings.database_url, "environment")
    elif _docker_answers():
        with _containers() as infra:
            yield infra
    else:
        with _local(settings) as infra:
            yield infra


def new_namespace(
    infra: Infra, partitions: int = 3, bootstrap_servers: str | None = None
) -> Namespace:
    """A fresh, migrated database and unique topic names (on ``bootstrap_servers``, the
    session's broker unless given)."""
    tag = uuid.uuid4().hex[:10]
    name = f"laurel_t_{tag}"
    with psycopg.connect(infra.admin_database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = conninfo.make_conninfo(infra.admin_database_url, dbname=name)
    migrate(url)
    ns = Namespace(
        bootstrap_servers=bootstrap_servers or infra.bootstrap_servers,
        database_url=url,
        commands_topic=f"t{tag}.commands",
        dead_letter_topic=f"t{tag}.commands.dlq",
        group=f"t{tag}-processor",
        partitions=partitions,
    )
    asyncio.run(
        ensure_topics(ns.bootstrap_servers, ns.commands_topic, ns.dead_letter_topic, partitions)
    )
    return ns
