"""Running Laurel's processes (api, processor, ranker, webhooks) as real subprocesses against a
test namespace."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import psycopg
from psycopg.conninfo import conninfo_to_dict

from projections.store.keys import new_key
from tests.support.infra import Namespace, free_port
from tests.support.waiting import wait_for


@dataclass
class LaurelProcesses:
    ns: Namespace
    home: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="laurel-proc-")))
    api_port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    admin_key: str = field(default_factory=lambda: new_key("admin")[0])
    _api: subprocess.Popen[bytes] | None = None
    _processor: subprocess.Popen[bytes] | None = None
    _processor_starts: int = 0
    _webhooks: subprocess.Popen[bytes] | None = None
    _webhooks_starts: int = 0
    _ranker: subprocess.Popen[bytes] | None = None
    _others: list[subprocess.Popen[bytes]] = field(default_factory=list)
    ops_ports: dict[str, int] = field(default_factory=dict)
    """Where each worker process (by role; the processor's last start) serves /metrics."""
    processor_ports: list[int] = field(default_factory=list)
    """Where every processor started so far serves /metrics, in order of start."""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def headers(self) -> dict[str, str]:
        """Headers authenticating as the bootstrap admin."""
        return {"X-API-KEY": self.admin_key}

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": self.ns.database_url,
            "KAFKA_BOOTSTRAP_SERVERS": self.ns.bootstrap_servers,
            "LAUREL_HOME": str(self.home),
            "LAUREL_API_PORT": str(self.api_port),
            "LAUREL_COMMANDS_TOPIC": self.ns.commands_topic,
            "LAUREL_DEAD_LETTER_TOPIC": self.ns.dead_letter_topic,
            "LAUREL_PROCESSOR_GROUP": self.ns.group,
            "LAUREL_PARTITIONS": str(self.ns.partitions),
            "LAUREL_PROCESSOR_SESSION_TIMEOUT_S": "6",
            "LAUREL_BOOTSTRAP_ADMIN_KEY": self.admin_key,
            **self.extra_env,
        }

    def ops_url(self, role: str) -> str:
        """The operator's endpoints of the ``role`` process (the api's are on its port)."""
        if role == "api":
            return self.base_url
        return f"http://127.0.0.1:{self.ops_ports[role]}"

    def scrape(self, role: str) -> str:
        """The ``role`` process's /metrics, as text."""
        response = httpx.get(self.ops_url(role) + "/metrics", timeout=10)
        response.raise_for_status()
        return response.text

    def _spawn(self, role: str, log_name: str) -> subprocess.Popen[bytes]:
        log = (self.home / log_name).open("ab")
        self.ops_ports[role] = free_port()
        return subprocess.Popen(
            [sys.executable, "-m", "laurel.cli", role],
            env={**self.env(), "LAUREL_OPS_PORT": str(self.ops_ports[role])},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def processor_log(self) -> str:
        return "".join(
            p.read_text(errors="replace") for p in sorted(self.home.glob("processor-*.log"))
        )

    def start_processor(self, wait_ready: bool = True) -> None:
        """Start the processor (the previous one, if any, keeps running as another worker)."""
        if self._processor is not None:
            self._others.append(self._processor)
        self._processor_starts += 1
        name = f"processor-{self._processor_starts}.log"
        self._processor = self._spawn("processor", name)
        self.processor_ports.append(self.ops_ports["processor"])
        if wait_ready:
            log = self.home / name
            wait_for(
                lambda: (
                    "Worker ready" in log.read_text(errors="replace")
                    or self._processor is None
                    or self._processor.poll() is not None
                ),
                90,
                "the processor to join its group",
            )
            assert self._processor.poll() is None, self.processor_log()[-4000:]

    def start_api(self) -> None:
        self._api = self._spawn("api", "api.log")

        def healthy() -> bool:
            assert self._api is not None
            if self._api.poll() is not None:
                raise AssertionError((self.home / "api.log").read_text()[-4000:])
            try:
                return httpx.get(self.base_url + "/health/ready", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, 60, "the api to answer /health/ready")

    def _spawn_ready(self, role: str, log_name: str, ready: str) -> subprocess.Popen[bytes]:
        """Start ``laurel <role>`` and wait until it logs ``ready``."""
        proc = self._spawn(role, log_name)
        log = self.home / log_name
        wait_for(
            lambda: ready in log.read_text(errors="replace") or proc.poll() is not None,
            60,
            f"the {role} process to start",
        )
        assert proc.poll() is None, log.read_text(errors="replace")[-4000:]
        return proc

    def start_webhooks(self) -> None:
        """Start a webhooks process and wait until it listens for work."""
        self._webhooks_starts += 1
        name = f"webhooks-{self._webhooks_starts}.log"
        self._webhooks = self._spawn_ready("webhooks", name, "webhooks ready")

    def start_ranker(self) -> None:
        """Start the ranker process and wait until it runs (or stands by)."""
        self._ranker = self._spawn_ready("ranker", "ranker.log", "ranker ready")

    def webhooks_log(self) -> str:
        return "".join(
            p.read_text(errors="replace") for p in sorted(self.home.glob("webhooks-*.log"))
        )

    def kill_webhooks(self) -> None:
        """SIGKILL the webhooks process: whatever it was sending is left mid-delivery."""
        assert self._webhooks is not None
        os.killpg(self._webhooks.pid, signal.SIGKILL)
        self._webhooks.wait(30)
        self._webhooks = None

    @property
    def webhooks_running(self) -> bool:
        return self._webhooks is not None and self._webhooks.poll() is None

    def cut_webhooks_database_sessions(self) -> int:
        """Terminate the webhooks process's PostgreSQL sessions, as a restart of the server
        does (``AdminShutdown`` on the next statement); returns how many there were."""
        assert self._webhooks is not None
        top = psutil.Process(self._webhooks.pid)
        server_port = int(conninfo_to_dict(self.ns.database_url).get("port") or 5432)
        ports = [
            c.laddr.port
            for proc in (top, *top.children(recursive=True))
            for c in proc.net_connections("tcp")
            if c.raddr and c.raddr.port == server_port
        ]
        with psycopg.connect(self.ns.database_url, autocommit=True) as conn:
            cut = conn.execute(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE client_port = ANY(%s)",
                (ports,),
            ).fetchone()
        return int(cut[0]) if cut is not None else 0

    def replay(self) -> subprocess.CompletedProcess[str]:
        """Run ``laurel replay`` against this namespace to its end (its output captured)."""
        return subprocess.run(
            [sys.executable, "-m", "laurel.cli", "replay"],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def kill_processor(self) -> None:
        """SIGKILL: no shutdown hooks, no final commit."""
        assert self._processor is not None
        os.killpg(self._processor.pid, signal.SIGKILL)
        self._processor.wait(30)
        self._processor = None

    def terminate_processor(self, timeout_s: float = 60.0) -> int:
        """SIGTERM: Faust's graceful shutdown, which commits the offsets it considers done."""
        assert self._processor is not None
        os.killpg(self._processor.pid, signal.SIGTERM)
        code = self._processor.wait(timeout_s)
        self._processor = None
        return code

    def stop(self) -> None:
        every = [self._api, self._processor, self._webhooks, self._ranker, *self._others]
        for proc in every:
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in every:
            if proc is not None:
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(10)
        self._api = self._processor = self._webhooks = self._ranker = None
        self._others.clear()


@contextmanager
def running(
    ns: Namespace, extra_env: dict[str, str] | None = None, webhooks: bool = False
) -> Iterator[LaurelProcesses]:
    """The api, the processor and the ranker (and a webhooks process) running against ``ns``
    until the block ends."""
    procs = LaurelProcesses(ns, extra_env=extra_env or {})
    try:
        procs.start_processor()
        procs.start_ranker()
        procs.start_api()
        if webhooks:
            procs.start_webhooks()
        yield procs
    finally:
        procs.stop()
