"""Background processes tracked by pid files under the stack's home."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from laurel.errors import ServiceFailed


@dataclass(frozen=True)
class ManagedProcess:
    """A named background process whose pid lives in ``run/<name>.pid`` and log in ``logs/``."""

    name: str
    home: Path
    marker: str
    """A string its command line contains, so a recycled pid is never mistaken for it."""

    @property
    def pid_file(self) -> Path:
        """Where the process's pid is kept."""
        return self.home / "run" / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        """Where the process's output goes."""
        return self.home / "logs" / f"{self.name}.log"

    def pid(self) -> int | None:
        """The pid when the process is alive and is really ours, else ``None``."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if _is_ours(pid, self.marker) else None

    def start(
        self,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> int:
        """Start the process detached in its own session, logging to its log file."""
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
            )
        self.pid_file.write_text(str(proc.pid))
        # Until the child has exec'd, /proc shows the parent's command line, not the marker.
        wait_until(lambda: _is_ours(proc.pid, self.marker) or proc.poll() is not None, 10.0)
        return proc.pid

    def stop(self, timeout_s: float = 20.0) -> bool:
        """SIGTERM the process group, then SIGKILL after ``timeout_s``; True if one was running."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        _signal_group(pid, signal.SIGTERM)
        if not wait_until(lambda: not _alive(pid), timeout_s):
            _signal_group(pid, signal.SIGKILL)
            wait_until(lambda: not _alive(pid), 5.0)
        self.pid_file.unlink(missing_ok=True)
        return True

    def log_size(self) -> int:
        """The log's size now, to look for lines written after it."""
        try:
            return self.log_file.stat().st_size
        except FileNotFoundError:
            return 0

    def logged_since(self, offset: int, text: str) -> bool:
        """Whether ``text`` appears in the log after byte ``offset``."""
        try:
            with self.log_file.open("rb") as f:
                f.seek(offset)
                return text.encode() in f.read()
        except FileNotFoundError:
            return False

    def tail(self, lines: int = 20) -> str:
        """The last lines of the log, for error messages."""
        return tail(self.log_file, lines)


def tail(log: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of ``log``, for error messages."""
    try:
        text = log.read_text(errors="replace").splitlines()[-lines:]
    except FileNotFoundError:
        return "(no log yet)"
    return "\n".join(text) if text else "(empty)"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def _is_ours(pid: int, marker: str) -> bool:
    if not _alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except FileNotFoundError:
        return False
    return marker.encode() in cmdline


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return
    except PermissionError:
        os.kill(pid, sig)


def wait_until(condition: Callable[[], bool], timeout_s: float, interval_s: float = 0.1) -> bool:
    """Poll ``condition`` until it holds or ``timeout_s`` passes; return whether it held."""
    deadline = time.monotonic() + timeout_s
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)


def port_open(host: str, port: int) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def require_started(
    proc: ManagedProcess,
    ready: Callable[[], bool],
    timeout_s: float,
    logs: Sequence[Path] = (),
) -> None:
    """Wait for ``ready``; raise :class:`ServiceFailed` with the tail of the process's output
    and of its other ``logs`` if it never comes."""
    wait_until(lambda: ready() or proc.pid() is None, timeout_s)
    if ready():
        return
    what = "exited" if proc.pid() is None else f"did not become ready within {timeout_s:.0f}s"
    tails = "".join(f"\n{log} ends with:\n{tail(log)}" for log in (proc.log_file, *logs))
    raise ServiceFailed(f"{proc.name} {what};{tails}")
