"""``laurel up`` / ``down`` / ``status``: the whole stack as background processes.

Kafka runs unless ``KAFKA_BOOTSTRAP_SERVERS`` names another broker, PostgreSQL unless
``DATABASE_URL`` names another server; the api and the processor always run. Each ``up`` starts
only what is not running, so it also revives a crashed process.
"""

from __future__ import annotations

import functools
import sys
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from laurel.errors import LaurelError
from laurel.ranker import RANKER_READY
from laurel.settings import Settings, child_environment
from laurel.stack import prereqs
from laurel.stack.kafka import KafkaBroker
from laurel.stack.postgres import PostgresCluster
from laurel.stack.preflight import Listener, require_free
from laurel.stack.process import ManagedProcess, require_started
from laurel.webhooks import WEBHOOKS_READY
from projections.store.keys import new_key
from projections.store.migrate import migrate


@dataclass(frozen=True)
class ServiceStatus:
    """One service of the local stack: its pid, where it listens and whether it answers."""

    name: str
    pid: int | None
    address: str
    healthy: bool

    def as_json(self) -> dict[str, object]:
        """The status as ``laurel status --json`` prints it."""
        return {
            "name": self.name,
            "pid": self.pid,
            "address": self.address,
            "healthy": self.healthy,
        }


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return bool(response.status == 200)
    except OSError:
        return False


class LocalStack:
    """Kafka, PostgreSQL, the api and the processor as background processes under
    ``LAUREL_HOME``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        home = settings.home
        self.kafka = (
            KafkaBroker(
                home,
                settings.cache_dir,
                settings.kafka_version,
                settings.kafka_port,
                settings.kafka_controller_port,
                settings.kafka_heap,
            )
            if settings.kafka_bootstrap_servers is None
            else None
        )
        self._pg_bin = settings.postgres_bin_dir
        self.api = ManagedProcess("api", home, marker="laurel.cli api")
        self.processor = ManagedProcess("processor", home, marker="laurel.cli processor")
        self.webhooks = ManagedProcess("webhooks", home, marker="laurel.cli webhooks")
        self.ranker = ManagedProcess("ranker", home, marker="laurel.cli ranker")

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
        self.settings.home.mkdir(parents=True, exist_ok=True)
        settings = self.settings
        cluster = self.postgres()
        start_kafka = self.kafka is not None and not self.kafka.running()
        start_postgres = cluster is not None and not cluster.running()
        start_api = self.api.pid() is None
        start_processor = self.processor.pid() is None
        start_webhooks = self.webhooks.pid() is None
        start_ranker = self.ranker.pid() is None
        if cluster is not None and start_postgres:
            cluster.check_reachable()
        listeners = []
        if start_kafka:
            listeners += [
                Listener("Kafka", "127.0.0.1", settings.kafka_port, "LAUREL_KAFKA_PORT"),
                Listener(
                    "Kafka's controller",
                    "127.0.0.1",
                    settings.kafka_controller_port,
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
        require_free(listeners)

        started: list[str] = []
        try:
            if self.kafka is not None and start_kafka:
                started.append("kafka")
                self.kafka.start()
            if cluster is not None and start_postgres:
                started.append("postgres")
                cluster.start()
            self._start_processes(start_api, start_processor, start_webhooks, start_ranker, started)
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

    def _start_processes(
        self, api: bool, processor: bool, webhooks: bool, ranker: bool, started: list[str]
    ) -> None:
        """Migrate the database, then start the processor, the webhooks process, the ranker and
        the api (as asked) and wait until they are ready, appending each name to ``started`` as
        it starts."""
        migrate(self.database_url())
        env = child_environment(
            LAUREL_BOOTSTRAP_ADMIN_KEY=self.admin_key(),
            DATABASE_URL=self.database_url(),
            KAFKA_BOOTSTRAP_SERVERS=self.settings.bootstrap_servers,
            LAUREL_HOME=str(self.settings.home),
        )
        python = sys.executable
        processor_log = self.processor.log_size()
        webhooks_log = self.webhooks.log_size()
        ranker_log = self.ranker.log_size()
        if webhooks:
            started.append("webhooks")
            self.webhooks.start([python, "-m", "laurel.cli", "webhooks"], env=env)
        if ranker:
            started.append("ranker")
            self.ranker.start([python, "-m", "laurel.cli", "ranker"], env=env)
        if processor:
            started.append("processor")
            self.processor.start([python, "-m", "laurel.cli", "processor"], env=env)
        if api:
            started.append("api")
            self.api.start([python, "-m", "laurel.cli", "api"], env=env)
        require_started(self.api, lambda: _http_ok(self.api_url + "/health"), 90.0)
        if processor:  # ready once it has joined its consumer group
            ready = functools.partial(self.processor.logged_since, processor_log, "Worker ready")
            require_started(self.processor, ready, 90.0)
        if webhooks:
            ready = functools.partial(self.webhooks.logged_since, webhooks_log, WEBHOOKS_READY)
            require_started(self.webhooks, ready, 60.0)
        if ranker:
            ready = functools.partial(self.ranker.logged_since, ranker_log, RANKER_READY)
            require_started(self.ranker, ready, 60.0)

    def _stoppers(self) -> dict[str, Callable[[], bool]]:
        """How to stop each service of this stack (each returns whether one was running), in
        the order ``down`` stops them."""
        found: dict[str, Callable[[], bool]] = {
            "api": self.api.stop,
            "processor": self.processor.stop,
            "webhooks": self.webhooks.stop,
            "ranker": self.ranker.stop,
        }
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
            found.append(
                ServiceStatus(
                    "kafka", self.kafka.process.pid(), self.kafka.bootstrap, self.kafka.healthy()
                )
            )
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
                self.api.pid() is not None and _http_ok(self.api_url + "/health"),
            )
        )
        pid = self.processor.pid()
        found.append(
            ServiceStatus("processor", pid, f"group {settings.processor_group}", pid is not None)
        )
        pid = self.webhooks.pid()
        found.append(ServiceStatus("webhooks", pid, "delivers webhooks", pid is not None))
        pid = self.ranker.pid()
        found.append(
            ServiceStatus("ranker", pid, "ranks, finalises runs, timed webhooks", pid is not None)
        )
        return found

    def logs_dir(self) -> Path:
        """Where the services' logs are."""
        return self.settings.home / "logs"
