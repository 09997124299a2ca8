"""`laurel up` / `status` / `down` as a user runs them: a whole stack in a fresh home."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pytest

from tests.support.infra import free_port
from tests.support.processes import LaurelProcesses
from tests.support.waiting import ProcessExit, wait_for

pytestmark = pytest.mark.integration


def laurel_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "laurel.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_up_status_revive_and_down_leave_nothing_behind() -> None:
    home = Path(tempfile.mkdtemp(prefix="laurel-up-"))
    home.chmod(0o755)
    api_port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")
    }
    env |= {
        "LAUREL_HOME": str(home),
        "LAUREL_API_PORT": str(api_port),
        "LAUREL_KAFKA_PORT": str(free_port()),
        "LAUREL_KAFKA_CONTROLLER_PORT": str(free_port()),
        "LAUREL_POSTGRES_PORT": str(free_port()),
    }
    pids: list[int] = []
    try:
        up = laurel_cli(env, "up")
        assert up.returncode == 0, up.stdout + up.stderr
        assert f"http://127.0.0.1:{api_port}" in up.stdout

        status = laurel_cli(env, "status", "--json")
        services = {s["name"]: s for s in json.loads(status.stdout)}
        assert set(services) == {"kafka", "postgres", "api", "processor"}
        assert all(s["healthy"] for s in services.values()), services
        assert status.returncode == 0
        pids = [s["pid"] for s in services.values()]

        base = f"http://127.0.0.1:{api_port}"
        key = up.stdout.split("Admin API key (X-API-KEY): ")[1].split()[0]
        assert (home / "admin-key").read_text() == key
        assert (home / "admin-key").stat().st_mode & 0o077 == 0
        http = httpx.Client(headers={"X-API-KEY": key}, timeout=30)
        assert httpx.get(f"{base}/v1/users/zoe").status_code == 401
        metric = http.post(f"{base}/admin/v1/metrics", json=[{"name": "Runs", "key": "runs"}])
        assert metric.status_code == 201
        event = http.post(f"{base}/v1/metrics/runs/event", json={"user": {"id": "zoe"}, "value": 5})
        assert event.status_code in (201, 202), event.text
        wait_for(
            lambda: http.get(f"{base}/v1/users/zoe/metrics/runs").status_code == 200,
            60,
            "zoe's total",
        )
        assert http.get(f"{base}/v1/users/zoe/metrics/runs").json()["current"] == 5

        os.kill(services["processor"]["pid"], signal.SIGKILL)
        dead = services["processor"]["pid"]
        wait_for(lambda: not alive(dead), 10, "the processor to die", ProcessExit(dead))
        down_status = laurel_cli(env, "status", "--json")
        assert down_status.returncode == 3
        assert {s["name"]: s["healthy"] for s in json.loads(down_status.stdout)}[
            "processor"
        ] is False

        again = laurel_cli(env, "up", "--json")
        assert again.returncode == 0, again.stderr
        revived = {s["name"]: s for s in json.loads(again.stdout)}
        assert revived["processor"]["pid"] != services["processor"]["pid"]
        assert revived["api"]["pid"] == services["api"]["pid"]  # running ones are left alone
        pids.append(revived["processor"]["pid"])
    finally:
        down = laurel_cli(env, "down")
    assert down.returncode == 0, down.stderr
    assert "kafka" in down.stdout
    assert "postgres" in down.stdout
    wait_for(
        lambda: not any(alive(pid) for pid in pids),
        30,
        "every process to exit",
        ProcessExit(*pids),
    )


def test_admin_keys_rotate_and_revoke_through_the_cli(laurel: LaurelProcesses) -> None:
    env = laurel.env()
    created = laurel_cli(env, "keys", "create-admin")
    assert created.returncode == 0, created.stderr
    key_id, new_key = created.stdout.split()[:2]
    api = httpx.Client(base_url=laurel.base_url, timeout=30)
    assert api.get("/admin/v1/metrics", headers={"X-API-KEY": new_key}).status_code == 200
    listed = laurel_cli(env, "keys", "list").stdout
    assert key_id in listed
    assert new_key.split(".")[1] not in listed  # secrets are never shown again

    revoked = laurel_cli(env, "keys", "revoke", key_id)
    assert revoked.returncode == 0
    assert "revoked" in revoked.stdout
    wait_for(
        lambda: api.get("/admin/v1/metrics", headers={"X-API-KEY": new_key}).status_code == 401,
        10,
        "the revocation to reach the api",
    )
    laurel_cli(env, "keys", "activate", key_id)
    wait_for(
        lambda: api.get("/admin/v1/metrics", headers={"X-API-KEY": new_key}).status_code == 200,
        10,
        "the activation to reach the api",
    )
