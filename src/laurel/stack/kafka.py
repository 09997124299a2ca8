"""Apache Kafka from Maven Central: one node (KRaft, broker and controller in one JVM), or a
cluster of such nodes forming one controller quorum.

The jars are resolved by Maven from the ``pom.xml`` beside this module into
``<cache>/kafka-<version>/libs``, so only the first start needs the network.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from laurel.errors import ServiceFailed
from laurel.stack.process import ManagedProcess, port_open, require_started
from laurel.topics import min_insync

_LOG4J2 = """\
status = warn
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.filePattern = ${sys:kafka.logs.dir}/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 50MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
"""


@dataclass(frozen=True)
class KafkaBroker:
    """One combined broker+controller listening on 127.0.0.1: alone, or one node of a
    :class:`KafkaCluster`."""

    home: Path
    cache_dir: Path
    version: str
    port: int
    controller_port: int
    heap: str = "512m"
    name: str = "kafka"
    """Its directory under ``home`` and its process's name."""
    node_id: int = 1
    quorum: tuple[tuple[int, int], ...] = ()
    """Every controller of the cluster as (node id, controller port); empty: this node alone."""

    @property
    def dir(self) -> Path:
        """The broker's configuration, data and logs."""
        return self.home / self.name

    @property
    def libs(self) -> Path:
        """The broker's jars, cached between stacks."""
        return self.cache_dir / f"kafka-{self.version}" / "libs"

    @property
    def config_file(self) -> Path:
        """The broker's ``server.properties``."""
        return self.dir / "server.properties"

    @property
    def process(self) -> ManagedProcess:
        """The broker's process, recognised by its configuration file's path."""
        return ManagedProcess(self.name, self.home, marker=str(self.config_file))

    @property
    def bootstrap(self) -> str:
        """The bootstrap address clients connect to."""
        return f"127.0.0.1:{self.port}"

    def fetch(self) -> bool:
        """Resolve the broker's jars with Maven unless cached; True when it downloaded."""
        marker = self.libs.parent / ".complete"
        if marker.exists():
            return False
        staging = Path(tempfile.mkdtemp(prefix="laurel-kafka-"))
        try:
            pom = staging / "pom.xml"
            pom.write_text(resources.files("laurel.stack").joinpath("pom.xml").read_text())
            out = staging / "libs"
            result = subprocess.run(
                [
                    "mvn",
                    "-q",
                    "-B",
                    "-f",
                    str(pom),
                    f"-Dkafka.version={self.version}",
                    "dependency:copy-dependencies",
                    "-DincludeScope=runtime",
                    f"-DoutputDirectory={out}",
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0 or not any(out.glob(f"kafka_2.13-{self.version}.jar")):
                raise ServiceFailed(
                    f"Maven could not fetch Apache Kafka {self.version}:\n"
                    f"{(result.stdout + result.stderr)[-3000:]}"
                )
            self.libs.parent.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(self.libs, ignore_errors=True)
            shutil.move(str(out), self.libs)
            marker.touch()
            return True
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _java(self, main: str, *args: str, heap: str | None = None) -> list[str]:
        argv = ["java"]
        if heap:
            argv += [f"-Xmx{heap}", f"-Xms{heap}", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20"]
        argv += [
            f"-Dlog4j2.configurationFile={self.dir / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.dir / 'logs'}",
            "-cp",
            f"{self.libs}/*",
            main,
            *args,
        ]
        return argv

    def configure(self) -> None:
        """Write the broker's configuration and format its storage once."""
        self.dir.mkdir(parents=True, exist_ok=True)
        data = self.dir / "data"
        replicas = min(3, max(1, len(self.quorum)))  # of the broker's internal topics
        quorum = (
            [
                "controller.quorum.voters="
                + ",".join(f"{node}@127.0.0.1:{port}" for node, port in self.quorum)
            ]
            if self.quorum
            else [f"controller.quorum.bootstrap.servers=127.0.0.1:{self.controller_port}"]
        )
        self.config_file.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    f"node.id={self.node_id}",
                    *quorum,
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},"
                    f"CONTROLLER://127.0.0.1:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    f"log.dirs={data}",
                    "num.partitions=1",
                    f"offsets.topic.replication.factor={replicas}",
                    "offsets.topic.num.partitions=10",
                    f"transaction.state.log.replication.factor={replicas}",
                    f"transaction.state.log.min.isr={min_insync(replicas)}",
                    f"share.coordinator.state.topic.replication.factor={replicas}",
                    f"share.coordinator.state.topic.min.isr={min_insync(replicas)}",
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=false",
                    "",
                ]
            )
        )
        (self.dir / "log4j2.properties").write_text(_LOG4J2)

    def format(self, cluster_id: str) -> None:
        """Format the node's storage for ``cluster_id`` unless it already is."""
        if (self.dir / "data" / "meta.properties").exists():
            return
        alone = () if self.quorum else ("--standalone",)
        result = subprocess.run(
            self._java(
                "kafka.tools.StorageTool",
                "format",
                *alone,
                "-t",
                cluster_id,
                "-c",
                str(self.config_file),
            ),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise ServiceFailed(f"formatting Kafka storage failed:\n{result.stdout}{result.stderr}")

    def new_cluster_id(self) -> str:
        """A fresh cluster id from Kafka's storage tool."""
        return (
            subprocess.run(
                self._java("kafka.tools.StorageTool", "random-uuid"),
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )

    def start(self, timeout_s: float = 90.0) -> bool:
        """Fetch, configure and start the broker unless running; True when it started it."""
        if self.running():
            return False
        self.fetch()
        self.configure()
        self.format(self.new_cluster_id())
        self.wait_started(self.launch(), timeout_s)
        return True

    def launch(self) -> int:
        """Start the configured, formatted node's process; returns where its log stood."""
        server_log = self.dir / "logs" / "server.log"
        offset = server_log.stat().st_size if server_log.exists() else 0
        self.process.start(self._java("kafka.Kafka", str(self.config_file), heap=self.heap))
        return offset

    def wait_started(self, offset: int, timeout_s: float = 90.0) -> None:
        """Wait until the node launched when its log stood at ``offset`` serves clients."""
        server_log = self.dir / "logs" / "server.log"

        def started() -> bool:
            try:
                with server_log.open("rb") as f:
                    f.seek(offset)
                    return b"Kafka Server started" in f.read()
            except FileNotFoundError:
                return False

        require_started(
            self.process,
            lambda: started() and port_open("127.0.0.1", self.port),
            timeout_s,
            logs=[server_log],
        )

    def running(self) -> bool:
        """Whether the broker's process is alive."""
        return self.process.pid() is not None

    def healthy(self) -> bool:
        """Whether the broker runs and accepts connections."""
        return self.running() and port_open("127.0.0.1", self.port)

    def stop(self) -> bool:
        """Stop the broker; whether one was running."""
        return self.process.stop(timeout_s=30.0)


@dataclass(frozen=True)
class KafkaCluster:
    """The local stack's Kafka: one node, or ``size`` nodes that are all controllers (a quorum
    that survives the loss of one) and brokers."""

    nodes: tuple[KafkaBroker, ...]

    @classmethod
    def local(
        cls,
        home: Path,
        cache_dir: Path,
        version: str,
        port: int,
        controller_port: int,
        heap: str,
        size: int = 1,
    ) -> KafkaCluster:
        """``size`` nodes on 127.0.0.1: node *i* (from 0) listens on ``port + 2i`` and
        ``controller_port + 2i``. One node lives in ``kafka/``, a cluster's in ``kafka-<id>/``."""
        ports = [(port + 2 * i, controller_port + 2 * i) for i in range(size)]
        return cls.on_ports(home, cache_dir, version, ports, heap)

    @classmethod
    def on_ports(
        cls,
        home: Path,
        cache_dir: Path,
        version: str,
        ports: Sequence[tuple[int, int]],
        heap: str,
    ) -> KafkaCluster:
        """One node per (broker port, controller port) of ``ports``."""
        if len(ports) == 1:
            (port, controller_port), *_ = ports
            return cls((KafkaBroker(home, cache_dir, version, port, controller_port, heap),))
        quorum = tuple((i + 1, controller) for i, (_, controller) in enumerate(ports))
        return cls(
            tuple(
                KafkaBroker(
                    home,
                    cache_dir,
                    version,
                    port,
                    controller,
                    heap,
                    name=f"kafka-{i + 1}",
                    node_id=i + 1,
                    quorum=quorum,
                )
                for i, (port, controller) in enumerate(ports)
            )
        )

    @property
    def bootstrap(self) -> str:
        """Every node's address, for clients."""
        return ",".join(node.bootstrap for node in self.nodes)

    def start(self, timeout_s: float = 120.0) -> bool:
        """Start the nodes that are not running (together: a node waits for the quorum);
        True when it started any."""
        down = [node for node in self.nodes if not node.running()]
        if not down:
            return False
        first = self.nodes[0]
        first.fetch()
        for node in self.nodes:
            node.configure()
        formatted = [n for n in self.nodes if (n.dir / "data" / "meta.properties").exists()]
        cluster_id = _cluster_id(formatted[0]) if formatted else first.new_cluster_id()
        for node in self.nodes:
            node.format(cluster_id)
        offsets = [(node, node.launch()) for node in down]
        for node, offset in offsets:
            node.wait_started(offset, timeout_s)
        return True

    def running(self) -> bool:
        """Whether every node's process is alive."""
        return all(node.running() for node in self.nodes)

    def stop(self) -> bool:
        """Stop every node; whether any was running."""
        return any([node.stop() for node in self.nodes])


def _cluster_id(node: KafkaBroker) -> str:
    for line in (node.dir / "data" / "meta.properties").read_text().splitlines():
        if line.startswith("cluster.id="):
            return line.split("=", 1)[1].strip()
    raise ServiceFailed(f"{node.dir}/data/meta.properties names no cluster.id")
