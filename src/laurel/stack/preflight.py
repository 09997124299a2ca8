"""What ``laurel up`` checks before it starts anything: that each port it is about to listen on
is free, naming the process that holds one when it can be found."""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterable
from dataclasses import dataclass

import psutil

from laurel.errors import StackBlocked


@dataclass(frozen=True)
class Listener:
    """A port a service of the stack is about to listen on, and the setting that moves it."""

    service: str
    host: str
    port: int
    variable: str


def in_use(host: str, port: int) -> bool:
    """Whether binding ``host:port`` fails because something holds it (binding with
    SO_REUSEADDR, as the servers do, so connections still closing do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def holder(port: int) -> str | None:
    """``pid N (command line)`` of the process listening on ``port``, if it can be found (the
    pids of other users' processes are visible to root only)."""
    try:
        pids = {
            c.pid
            for c in psutil.net_connections("inet")
            if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid
        }
    except psutil.AccessDenied:
        return None
    for pid in sorted(pids):
        try:
            command = " ".join(psutil.Process(pid).cmdline())
        except psutil.Error:
            continue
        if len(command) > 200:  # the end names what it runs (a main class, its config)
            command = f"{command[:60]} … {command[-130:]}"
        return f"pid {pid} ({command})"
    return None


def require_free(listeners: Iterable[Listener]) -> None:
    """Raise :class:`StackBlocked` naming every port in use, who holds it and the variable
    that moves it."""
    problems = []
    for wanted in listeners:
        if not in_use(wanted.host, wanted.port):
            continue
        held_by = holder(wanted.port)
        who = f"by {held_by}" if held_by else "by another process"
        problems.append(
            f"port {wanted.port} ({wanted.service}) is already in use {who}; stop it, or set "
            f"{wanted.variable} to a free port"
        )
    if problems:
        raise StackBlocked("\n".join(problems))
