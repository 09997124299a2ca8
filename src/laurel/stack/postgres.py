"""A PostgreSQL cluster made with the machine's ``initdb`` and run with ``pg_ctl`` on 127.0.0.1.

PostgreSQL refuses to run as root, so when Laurel runs as root the cluster belongs to the
``postgres`` system user and every server command runs through ``runuser``.
"""

from __future__ import annotations

import os
import pwd
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

from laurel.errors import PrerequisiteMissing, ServiceFailed, StackBlocked
from laurel.stack.process import port_open, tail, wait_until

DATABASE = "laurel"
SUPERUSER = "laurel"


@dataclass(frozen=True)
class PostgresCluster:
    """One cluster under ``<home>/postgres`` serving the ``laurel`` database."""

    home: Path
    bin_dir: Path
    port: int

    @property
    def dir(self) -> Path:
        """The cluster's directory: data, password."""
        return self.home / "postgres"

    @property
    def data(self) -> Path:
        """The data directory ``initdb`` made."""
        return self.dir / "data"

    @property
    def log_file(self) -> Path:
        """The server's log."""
        return self.home / "logs" / "postgres.log"

    @property
    def password_file(self) -> Path:
        """The superuser's generated password (readable only by its owner)."""
        return self.dir / "password"

    def url(self, database: str = DATABASE) -> str:
        """A libpq URL for ``database`` as the cluster's superuser."""
        password = quote(self.password_file.read_text().strip(), safe="")
        return f"postgresql://{SUPERUSER}:{password}@127.0.0.1:{self.port}/{database}"

    def _owner(self) -> pwd.struct_passwd | None:
        """The unprivileged user to run the server as when we are root, else ``None``."""
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam("postgres")
        except KeyError as exc:
            raise PrerequisiteMissing(
                "running as root needs the 'postgres' system user to own the cluster; "
                "install the Debian package postgresql (or run as an ordinary user)"
            ) from exc

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bin_dir / argv[0]), *argv[1:]]
        owner = self._owner()
        if owner is not None:
            cmd = ["runuser", "-u", owner.pw_name, "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if check and result.returncode != 0:
            raise ServiceFailed(
                f"{argv[0]} failed ({result.returncode}):\n{result.stdout}{result.stderr}\n"
                f"{self.log_file} ends with:\n{tail(self.log_file)}"
            )
        return result

    def _chown(self, path: Path) -> None:
        owner = self._owner()
        if owner is not None:
            os.chown(path, owner.pw_uid, owner.pw_gid)

    def check_reachable(self) -> None:
        """Raise :class:`StackBlocked` if the server's user (``postgres``, when we are root)
        cannot traverse every directory above the home (the home itself :meth:`init` opens)."""
        if self._owner() is None:
            return
        for parent in self.home.parents:
            if parent.stat().st_mode & 0o001 == 0:
                raise StackBlocked(
                    f"the postgres user cannot reach {self.data}: {parent} is not traversable "
                    f"(mode {parent.stat().st_mode & 0o777:o}); set LAUREL_HOME to a directory "
                    "outside it (the default for root is /var/lib/laurel)"
                )

    def _prepare_log(self) -> None:
        (self.home / "logs").mkdir(parents=True, exist_ok=True)
        self.log_file.touch()
        self._chown(self.log_file)

    def init(self) -> bool:
        """Create the cluster once (scram-sha-256 with a generated password); True if created."""
        if (self.data / "PG_VERSION").exists():
            return False
        self.check_reachable()
        if self._owner() is not None and self.home.stat().st_mode & 0o001 == 0:
            self.home.chmod(self.home.stat().st_mode | 0o711)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o711)
        self._prepare_log()
        password = secrets.token_urlsafe(24)
        self.password_file.write_text(password)
        self.password_file.chmod(0o600)
        pwfile = self.dir / ".initdb-password"
        pwfile.write_text(password)
        pwfile.chmod(0o600)
        self._chown(pwfile)
        self.data.mkdir(mode=0o700, exist_ok=True)
        self._chown(self.data)
        try:
            self._run(
                "initdb",
                "-D",
                str(self.data),
                "-U",
                SUPERUSER,
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        with (self.data / "postgresql.auto.conf").open("a") as conf:
            conf.write(
                "listen_addresses = '127.0.0.1'\n"
                "unix_socket_directories = ''\n"
                "max_connections = 200\n"
                "shared_buffers = 256MB\n"
                "fsync = on\n"
            )
        return True

    def running(self) -> bool:
        """Whether the server runs (``pg_ctl status``)."""
        if not (self.data / "PG_VERSION").exists():
            return False
        return self._run("pg_ctl", "status", "-D", str(self.data), check=False).returncode == 0

    def healthy(self) -> bool:
        """Whether the server runs and accepts connections."""
        return self.running() and port_open("127.0.0.1", self.port)

    def pid(self) -> int | None:
        """The postmaster's pid, if the cluster has one."""
        try:
            return int((self.data / "postmaster.pid").read_text().splitlines()[0])
        except (FileNotFoundError, PermissionError, ValueError, IndexError):
            return None

    def start(self, timeout_s: float = 60.0) -> bool:
        """Initialise and start the server unless running, then ensure the database; True if
        it started the server."""
        self.init()
        started = False
        if not self.running():
            self._prepare_log()
            self._run(
                "pg_ctl",
                "start",
                "-D",
                str(self.data),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                str(int(timeout_s)),
                "-o",
                f"-p {self.port}",
            )
            started = True
        if not wait_until(lambda: port_open("127.0.0.1", self.port), timeout_s):
            raise ServiceFailed(f"PostgreSQL is not listening on {self.port}; see {self.log_file}")
        self.ensure_database(DATABASE)
        return started

    def ensure_database(self, name: str) -> None:
        """Create database ``name`` if it does not exist."""
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def stop(self) -> bool:
        """Stop the server (fast shutdown); whether it was running."""
        if not self.running():
            return False
        self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w", "-t", "60")
        return True

    def version(self) -> str:
        """The server binaries' version line."""
        out = subprocess.run(
            [str(self.bin_dir / "postgres"), "--version"],
            capture_output=True,
            text=True,
            check=False,
        )
        return out.stdout.strip()
