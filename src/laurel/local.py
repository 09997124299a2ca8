"""``laurel up`` / ``down`` / ``status``: the whole stack as background processes.

Kafka (one node or a cluster) runs unless ``KAFKA_BOOTSTRAP_SERVERS`` names other brokers,
PostgreSQL unless ``DATABASE_URL`` names another server; the api, the processor workers, the
ranker and the webhooks process always run. Each ``up`` starts only what is not running, so it
also revives a crashed process. Each worker process serves its operator's endpoints
(``/metrics``, ``/health/*``) on a port of its own counted from ``LAUREL_OPS_PORT``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from laurel.errors import ConfigurationError, LaurelError
from laurel.lag import topic_lags
from laurel.settings import Settings, child_environment
from laurel.stack import prereqs
from laurel.stack.kafka import KafkaCluster
from laurel.stack.postgres import PostgresCluster
from laurel.stack.preflight import Listener, require_free
from laurel.stack.process import ManagedProcess, require_started
from projections.store.keys import new_key
from projections.store.migrate import migrate
from projections.store.projection_schemas import PartitionLag


@dataclass(frozen=True)
class ServiceStatus:
    """One service of the local stack: its pid, where it listens and whether it answers."""

    name: str
    pid: int | None
    address: str
    healthy: bool
    metrics: str | None = None
    """Where its Prometheus metrics are scraped (``None`` for Kafka and PostgreSQL)."""

    def as_json(self) -> dict[str, object]:
        """The status as ``laurel status --json`` prints it."""
        return {
            "name": self.name,
            "pid": self.pid,
            "address": self.address,
            "healthy": self.healthy,
            "metrics": self.metrics,
        }


@dataclass(frozen=True)
class Worker:
    """A worker process of the stack (a processor, the ranker, the webhooks process) and the
    port of its operator's endpoints."""

    role: str
    process: ManagedProcess
    host: str
    ops_port: int
    describes: str

    @property
    def ops_url(self) -> str:
        """Where it serves ``/metrics`` and ``/health/*``."""
        return f"http://{self.host}:{self.ops_port}"

    def ready(self) -> bool:
        """Whether it runs and answers ``/health/ready`` with 200."""
        return self.process.pid() is not None and _http_ok(self.ops_url + "/health/ready")

    def status(self) -> ServiceStatus:
        """Its line of ``laurel status``."""
        return ServiceStatus(
            self.process.name,
            self.process.pid(),
            self.describes,
            self.ready(),
            self.ops_url + "/metrics",
        )


LAG_TIMEOUT_S = 15.0
"""How long ``laurel status`` waits for Kafka and PostgreSQL to tell the partitions' lag."""

PROCESSOR_OPS_OFFSET = 10
"""Processor worker *i* (from 0) serves its endpoints on ``LAUREL_OPS_PORT + 10 + i``; the
webhooks process on ``LAUREL_OPS_PORT``, the ranker on the next port."""


def _processor_name(i: int) -> str:
    return "processor" if i == 0 else f"processor-{i + 1}"


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return bool(response.status == 200)
    except OSError:
        return False


class LocalStack:
    """Kafka, PostgreSQL, the api and the processor as background processes under
    ``LAUREL_HOME``."""

    def __init__(
        self, settings: Settings, brokers: int | None = None, processors: int | None = None
    ) -> None:
        """``brokers`` and ``processors`` (``laurel up``'s flags) override the settings and
        what an earlier ``up`` recorded in the home."""
        self.settings = settings
        home = settings.home
        self._layout = self._recorded()
        self._brokers_asked = brokers or self._set(settings, "kafka_brokers")
        self.brokers = self._asked(brokers, "kafka_brokers")
        self.processor_count = self._asked(processors, "processors")
        self.kafka = (
            KafkaCluster.local(
                home,
                settings.cache_dir,
                settings.kafka_version,
                settings.kafka_port,
                settings.kafka_controller_port,
                settings.kafka_heap,
                self.brokers,
            )
            if settings.kafka_bootstrap_servers is None
            else None
        )
        self._pg_bin = settings.postgres_bin_dir
        self.api = ManagedProcess("api", home, marker="laurel.cli api")
        ops_host, ops_port = settings.ops_host, settings.ops_port
        self.processors = [
            Worker(
                "processor",
                ManagedProcess(_processor_name(i), home, marker="laurel.cli processor"),
                ops_host,
                ops_port + PROCESSOR_OPS_OFFSET + i,
                f"group {settings.processor_group}",
            )
            for i in range(max(self.processor_count, self._processors_on_disk()))
        ]
        self.webhooks = Worker(
            "webhooks",
            ManagedProcess("webhooks", home, marker="laurel.cli webhooks"),
            ops_host,
            ops_port,
            "delivers webhooks",
        )
        self.ranker = Worker(
            "ranker",
            ManagedProcess("ranker", home, marker="laurel.cli ranker"),
            ops_host,
            ops_port + 1,
            "ranks, finalises runs, timed webhooks",
        )

    @property
    def bootstrap(self) -> str:
        """The Kafka bootstrap list the processes use: every local node, or the configured."""
        return self.kafka.bootstrap if self.kafka is not None else self.settings.bootstrap_servers

    @property
    def processor(self) -> ManagedProcess:
        """The first processor worker's process."""
        return self.processors[0].process

    @property
    def _layout_file(self) -> Path:
        return self.settings.home / "stack.json"

    def _set(self, settings: Settings, field: str) -> int | None:
        """The setting's value when its variable was set, else ``None``."""
        return int(getattr(settings, field)) if field in settings.model_fields_set else None

    def _asked(self, flag: int | None, field: str) -> int:
        """A size of the stack: the flag, else the variable, else what the last ``up`` in this
        home ran, else the default."""
        found = flag or self._set(self.settings, field) or self._layout.get(field)
        return found or int(getattr(self.settings, field))

    def _recorded(self) -> dict[str, int]:
        """What the last ``up`` in this home ran (the Kafka cluster's size, the workers)."""
        try:
            found = json.loads(self._layout_file.read_text())
        except (FileNotFoundError, ValueError):
            return {}
        return {k: v for k, v in found.items() if isinstance(v, int)}

    def _processors_on_disk(self) -> int:
        """Processor workers an earlier ``up`` may have left pid files for."""
        run = self.settings.home / "run"
        names = {p.stem for p in run.glob("processor*.pid")} if run.exists() else set()
        return max((i + 1 for i in range(64) if _processor_name(i) in names), default=0)

    def _check_cluster_size(self) -> None:
        """A home's Kafka keeps its size: data formatted for one size cannot serve another."""
        recorded = self._layout.get("kafka_brokers")
        if (
            self.kafka is not None
            and self._brokers_asked is not None
            and recorded is not None
            and recorded != self._brokers_asked
        ):
            raise ConfigurationError(
                f"this LAUREL_HOME ({self.settings.home}) holds a {recorded}-broker Kafka "
                f"cluster; `laurel up --brokers {self._brokers_asked}` needs another "
                "LAUREL_HOME (or `laurel down` and remove this one)"
            )

    @property
    def api_url(self) -> str:
        """Where the api listens."""
        return f"http://{self.settings.api_host}:{self.settings.api_port}"

    def postgres(self) -> PostgresCluster | None:
        """The local cluster, or ``None`` when ``DATABASE_URL`` names another server."""
        if self.settings.database_url is not None:
            return None
        bin_dir = prereqs.postgres_bin_dir(self._pg_bin)
        if bin_dir is None:
            prereqs.ensure(self._pg_bin, install=False)
            raise AssertionError("unreachable")
        return PostgresCluster(self.settings.home, bin_dir, self.settings.postgres_port)

    @property
    def admin_key_file(self) -> Path:
        """Where the bootstrap admin key is kept (readable only by its owner)."""
        return self.settings.home / "admin-key"

    def admin_key(self) -> str:
        """The bootstrap admin key: LAUREL_BOOTSTRAP_ADMIN_KEY, else the one this stack made
        on its first start (kept, readable only by its owner, in ``admin-key``)."""
        if self.settings.bootstrap_admin_key is not None:
            return self.settings.bootstrap_admin_key.get_secret_value()
        if self.admin_key_file.exists():
            return self.admin_key_file.read_text().strip()
        key = new_key("admin")[0]
        self.admin_key_file.touch(mode=0o600)
        self.admin_key_file.write_text(key)
        return key

    def database_url(self) -> str:
        """The database the processes use: the local cluster's, or ``DATABASE_URL``."""
        cluster = self.postgres()
        return cluster.url() if cluster is not None else self.settings.require_database_url()

    def up(self, install_prereqs: bool = False) -> list[ServiceStatus]:
        """Start whatever is not running; return the status of every service.

        What can be checked is checked before anything starts: the prerequisites, that the
        database server can reach the home, that the ports are free. If starting fails all
        the same, what this call started is stopped again, and the error says so."""
        prereqs.ensure(self._pg_bin, install=install_prereqs)
        self._check_cluster_size()
        self.settings.home.mkdir(parents=True, exist_ok=True)
        settings = self.settings
        cluster = self.postgres()
        kafka_down = [] if self.kafka is None else [n for n in self.kafka.nodes if not n.running()]
        start_postgres = cluster is not None and not cluster.running()
        start_api = self.api.pid() is None
        workers = [w for w in self._workers() if w.process.pid() is None]
        if cluster is not None and start_postgres:
            cluster.check_reachable()
        listeners = []
        for node in kafka_down:
            listeners += [
                Listener(node.name, "127.0.0.1", node.port, "LAUREL_KAFKA_PORT"),
                Listener(
                    f"{node.name}'s controller",
                    "127.0.0.1",
                    node.controller_port,
                    "LAUREL_KAFKA_CONTROLLER_PORT",
                ),
            ]
        if start_postgres:
            listeners.append(
                Listener("PostgreSQL", "127.0.0.1", settings.postgres_port, "LAUREL_POSTGRES_PORT")
            )
        if start_api:
            listeners.append(
                Listener("the api", settings.api_host, settings.api_port, "LAUREL_API_PORT")
            )
        listeners += [
            Listener(f"the {w.process.name}'s /metrics", w.host, w.ops_port, "LAUREL_OPS_PORT")
            for w in workers
        ]
        require_free(listeners)
        layout = {"kafka_brokers": self.brokers, "processors": self.processor_count}
        self._layout_file.write_text(json.dumps(layout))

        started: list[str] = []
        try:
            if self.kafka is not None and kafka_down:
                started.append("kafka")
                self.kafka.start()
            if cluster is not None and start_postgres:
                started.append("postgres")
                cluster.start()
            self._start_processes(start_api, workers, started)
            for extra in self.processors[self.processor_count :]:
                extra.process.stop()  # fewer workers asked for than ran before
        except BaseException as exc:
            stoppers = self._stoppers()
            stopped = [name for name in reversed(started) if stoppers[name]()]
            note = (
                f"`laurel up` stopped what it had started: {', '.join(stopped)}"
                if stopped
                else "`laurel up` left nothing running"
            )
            if isinstance(exc, LaurelError):
                raise type(exc)(f"{exc}\n{note}") from exc
            exc.add_note(note)
            raise
        return self.status()

    def _workers(self) -> list[Worker]:
        """The worker processes ``up`` runs: the processors asked for, webhooks, the ranker."""
        return [*self.processors[: self.processor_count], self.webhooks, self.ranker]

    def _start_processes(self, api: bool, workers: list[Worker], started: list[str]) -> None:
        """Migrate the database, then start ``workers`` and (if asked) the api, and wait until
        each is ready, appending each name to ``started`` as it starts."""
        migrate(self.database_url())
        env = child_environment(
            LAUREL_BOOTSTRAP_ADMIN_KEY=self.admin_key(),
            DATABASE_URL=self.database_url(),
            KAFKA_BOOTSTRAP_SERVERS=self.bootstrap,
            LAUREL_HOME=str(self.settings.home),
        )
        python = sys.executable
        for worker in workers:
            started.append(worker.process.name)
            worker.process.start(
                [python, "-m", "laurel.cli", worker.role],
                env={**env, "LAUREL_OPS_PORT": str(worker.ops_port)},
            )
        if api:
            started.append("api")
            self.api.start([python, "-m", "laurel.cli", "api"], env=env)
        require_started(self.api, lambda: _http_ok(self.api_url + "/health/ready"), 90.0)
        for worker in workers:  # a processor is ready once it has joined its consumer group
            require_started(worker.process, worker.ready, 90.0)

    def _stoppers(self) -> dict[str, Callable[[], bool]]:
        """How to stop each service of this stack (each returns whether one was running), in
        the order ``down`` stops them."""
        found: dict[str, Callable[[], bool]] = {"api": self.api.stop}
        found |= {w.process.name: w.process.stop for w in self.processors}
        found |= {"webhooks": self.webhooks.process.stop, "ranker": self.ranker.process.stop}
        if self.kafka is not None:
            found["kafka"] = self.kafka.stop
        if self.settings.database_url is None and prereqs.postgres_bin_dir(self._pg_bin):
            cluster = self.postgres()
            if cluster is not None:
                found["postgres"] = cluster.stop
        return found

    def down(self) -> list[str]:
        """Stop everything this stack started (also after a crash); return what was stopped."""
        return [name for name, stop in self._stoppers().items() if stop()]

    def status(self) -> list[ServiceStatus]:
        """Every service's status (exit status 3 of ``laurel status`` when one is down)."""
        settings = self.settings
        found = []
        if self.kafka is not None:
            found += [
                ServiceStatus(node.name, node.process.pid(), node.bootstrap, node.healthy())
                for node in self.kafka.nodes
            ]
        if settings.database_url is None and prereqs.postgres_bin_dir(self._pg_bin):
            cluster = self.postgres()
            assert cluster is not None
            running = cluster.running()
            found.append(
                ServiceStatus(
                    "postgres",
                    cluster.pid() if running else None,
                    f"127.0.0.1:{settings.postgres_port}",
                    running and cluster.healthy(),
                )
            )
        found.append(
            ServiceStatus(
                "api",
                self.api.pid(),
                self.api_url,
                self.api.pid() is not None and _http_ok(self.api_url + "/health/ready"),
                self.api_url + "/metrics",
            )
        )
        found += [worker.status() for worker in self._workers()]
        return found

    def lags(self) -> list[PartitionLag]:
        """Each partition's lag: the brokers' high watermark against the projection's
        checkpoint (raises when Kafka or PostgreSQL does not answer)."""
        found = topic_lags(self.bootstrap, self.database_url(), self.settings.commands_topic)
        return asyncio.run(asyncio.wait_for(found, LAG_TIMEOUT_S))

    def logs_dir(self) -> Path:
        """Where the services' logs are."""
        return self.settings.home / "logs"
