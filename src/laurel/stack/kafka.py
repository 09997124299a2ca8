"""A single-node Apache Kafka broker (KRaft, broker and controller in one JVM) from Maven Central.

The broker's jars are resolved by Maven from the ``pom.xml`` beside this module into
``<cache>/kafka-<version>/libs``, so only the first start needs the network.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from laurel.errors import ServiceFailed
from laurel.stack.process import ManagedProcess, port_open, require_started

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
    """One combined broker+controller listening on 127.0.0.1."""

    home: Path
    cache_dir: Path
    version: str
    port: int
    controller_port: int
    heap: str = "512m"

    @property
    def dir(self) -> Path:
        """The broker's configuration, data and logs."""
        return self.home / "kafka"

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
        return ManagedProcess("kafka", self.home, marker=str(self.config_file))

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
        self.config_file.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.bootstrap.servers=127.0.0.1:{self.controller_port}",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},"
                    f"CONTROLLER://127.0.0.1:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    f"log.dirs={data}",
                    "num.partitions=1",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=10",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=false",
                    "",
                ]
            )
        )
        (self.dir / "log4j2.properties").write_text(_LOG4J2)
        if (data / "meta.properties").exists():
            return
        cluster_id = (
            subprocess.run(
                self._java("kafka.tools.StorageTool", "random-uuid"),
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        result = subprocess.run(
            self._java(
                "kafka.tools.StorageTool",
                "format",
                "--standalone",
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

    def start(self, timeout_s: float = 90.0) -> bool:
        """Fetch, configure and start the broker unless running; True when it started it."""
        if self.running():
            return False
        self.fetch()
        self.configure()
        server_log = self.dir / "logs" / "server.log"
        offset = server_log.stat().st_size if server_log.exists() else 0
        self.process.start(self._java("kafka.Kafka", str(self.config_file), heap=self.heap))

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
        return True

    def running(self) -> bool:
        """Whether the broker's process is alive."""
        return self.process.pid() is not None

    def healthy(self) -> bool:
        """Whether the broker runs and accepts connections."""
        return self.running() and port_open("127.0.0.1", self.port)

    def stop(self) -> bool:
        """Stop the broker; whether one was running."""
        return self.process.stop(timeout_s=30.0)
