"""Checks for the programs the local stack runs, with the Debian package that provides each."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from laurel.errors import PrerequisiteMissing


@dataclass(frozen=True)
class Prerequisite:
    """A program the local stack needs, the Debian package that provides it, and whether it is
    installed."""

    what: str
    package: str
    present: bool


def java_major_version() -> int | None:
    """The major version of ``java`` on the PATH, or ``None`` when there is none."""
    if shutil.which("java") is None:
        return None
    out = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)', out.stderr + out.stdout)
    return int(match.group(1)) if match else None


def postgres_bin_dir(configured: Path | None) -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``: configured, from pg_config, or Debian's."""
    candidates: list[Path] = []
    if configured is not None:
        candidates.append(configured)
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(Path(out.stdout.strip()))
    versions = (
        sorted(
            Path("/usr/lib/postgresql").glob("*/bin"),
            key=lambda p: int(p.parent.name),
            reverse=True,
        )
        if Path("/usr/lib/postgresql").is_dir()
        else []
    )
    candidates.extend(versions)
    for bin_dir in candidates:
        if (bin_dir / "initdb").exists() and (bin_dir / "pg_ctl").exists():
            return bin_dir
    return None


def check(pg_bin_dir: Path | None) -> list[Prerequisite]:
    """What the local stack needs, and whether each is present."""
    java = java_major_version()
    return [
        Prerequisite(
            "Java 17 or newer", "openjdk-17-jre-headless", java is not None and java >= 17
        ),
        Prerequisite("Maven", "maven", shutil.which("mvn") is not None),
        Prerequisite(
            "PostgreSQL server binaries (initdb, pg_ctl)",
            "postgresql",
            postgres_bin_dir(pg_bin_dir) is not None,
        ),
    ]


def ensure(pg_bin_dir: Path | None, install: bool) -> None:
    """Raise :class:`PrerequisiteMissing` naming the packages, or install them with apt."""
    missing = [p for p in check(pg_bin_dir) if not p.present]
    if not missing:
        return
    packages = [p.package for p in missing]
    if install and shutil.which("apt-get"):
        subprocess.run(["apt-get", "update", "-q"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-q", *packages], check=True)
        ensure(pg_bin_dir, install=False)
        return
    names = ", ".join(p.what for p in missing)
    raise PrerequisiteMissing(
        f"missing {names}. Install with: apt-get install -y {' '.join(packages)} "
        "(or run `laurel up --install-prereqs` as root on Debian or Ubuntu)"
    )
