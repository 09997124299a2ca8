"""`laurel up` / `status` / `down` as a user runs them: a whole stack in a fresh home."""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import psutil
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from tests.support.infra import free_port, free_port_block
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


def stack_env(home: Path) -> dict[str, str]:
    """The environment of a whole local stack of its own in ``home``, on free ports."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")
    }
    # up to three Kafka nodes (broker +2i, controller +2i+1), then the workers' endpoints
    # (webhooks, the ranker, two processors at +10 and +11)
    kafka = free_port_block([*range(6), 10, 11, 20, 21])
    ops = kafka + 10
    return env | {
        "LAUREL_HOME": str(home),
        "LAUREL_API_PORT": str(free_port()),
        "LAUREL_KAFKA_PORT": str(kafka),
        "LAUREL_KAFKA_CONTROLLER_PORT": str(kafka + 1),
        "LAUREL_POSTGRES_PORT": str(free_port()),
        "LAUREL_OPS_PORT": str(ops),
    }


def fresh_home() -> Path:
    home = Path(tempfile.mkdtemp(prefix="laurel-up-"))
    home.chmod(0o755)
    return home


def processes_of(home: Path) -> list[str]:
    """Every process whose command line or environment names ``home``."""
    found = []
    for proc in psutil.process_iter():
        try:
            command = " ".join(proc.cmdline())
            ours = str(home) in command or proc.environ().get("LAUREL_HOME") == str(home)
        except psutil.Error:  # gone meanwhile, or a zombie
            continue
        if ours and proc.pid != os.getpid():
            found.append(f"{proc.pid}: {command}")
    return found


def test_up_status_revive_and_down_leave_nothing_behind() -> None:
    home = fresh_home()
    env = stack_env(home)
    api_port = int(env["LAUREL_API_PORT"])
    pids: list[int] = []
    try:
        up = laurel_cli(env, "up")
        assert up.returncode == 0, up.stdout + up.stderr
        assert f"http://127.0.0.1:{api_port}" in up.stdout

        status = laurel_cli(env, "status", "--json")
        services = {s["name"]: s for s in json.loads(status.stdout)["services"]}
        assert set(services) == {"kafka", "postgres", "api", "processor", "webhooks", "ranker"}
        assert all(s["healthy"] for s in services.values()), services
        assert status.returncode == 0
        for name in ("api", "processor", "webhooks", "ranker"):  # each scraped where it says
            scraped = httpx.get(services[name]["metrics"], timeout=10)
            assert scraped.status_code == 200, name
            assert "laurel_" in scraped.text
        assert services["kafka"]["metrics"] is None
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
        partitions = json.loads(laurel_cli(env, "status", "--json").stdout)["partitions"]
        assert len(partitions) == 6  # LAUREL_PARTITIONS' default
        assert all(p["lag"] == 0 for p in partitions), partitions
        assert sum(p["lastBatch"] is not None for p in partitions) == 1  # zoe's partition

        os.kill(services["processor"]["pid"], signal.SIGKILL)
        dead = services["processor"]["pid"]
        wait_for(lambda: not alive(dead), 10, "the processor to die", ProcessExit(dead))
        down_status = laurel_cli(env, "status", "--json")
        assert down_status.returncode == 3
        assert {s["name"]: s["healthy"] for s in json.loads(down_status.stdout)["services"]}[
            "processor"
        ] is False

        again = laurel_cli(env, "up", "--json")
        assert again.returncode == 0, again.stderr
        revived = {s["name"]: s for s in json.loads(again.stdout)["services"]}
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


def test_up_names_a_port_in_use_and_who_holds_it_and_starts_nothing() -> None:
    home = fresh_home()
    env = stack_env(home)
    port = int(env["LAUREL_POSTGRES_PORT"])  # Kafka, which starts first, would be free
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        up = laurel_cli(env, "up")
    assert up.returncode == 2, up.stdout + up.stderr
    assert f"port {port} (PostgreSQL) is already in use by pid {os.getpid()} (" in up.stderr
    assert "set LAUREL_POSTGRES_PORT to a free port" in up.stderr
    assert processes_of(home) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="PostgreSQL runs as another user only for root")
def test_up_refuses_a_home_the_database_server_cannot_reach_before_starting_anything() -> None:
    locked = Path(tempfile.mkdtemp(prefix="laurel-locked-"))  # mode 0700, like /root
    home = locked / "home"
    up = laurel_cli(stack_env(home), "up")
    assert up.returncode == 2, up.stdout + up.stderr
    assert f"{locked} is not traversable (mode 700); set LAUREL_HOME" in up.stderr
    assert processes_of(home) == []
    assert not (home / "kafka").exists()  # Kafka was not even configured


def test_a_service_that_fails_to_start_stops_what_up_had_started() -> None:
    home = fresh_home()
    data = home / "postgres" / "data"  # a cluster directory without its configuration
    data.mkdir(parents=True, mode=0o700)
    (data / "PG_VERSION").write_text("15\n")
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        for path in (data, data / "PG_VERSION"):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    up = laurel_cli(stack_env(home), "up")
    assert up.returncode == 2, up.stdout + up.stderr
    assert "pg_ctl failed" in up.stderr
    assert "postgresql.conf" in up.stderr  # the cause, from the server's log
    assert up.stderr.rstrip().endswith("`laurel up` stopped what it had started: kafka")
    assert processes_of(home) == []


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


def test_the_processor_keeps_its_files_under_its_home(laurel: LaurelProcesses) -> None:
    assert (laurel.home / "processor-data").is_dir()
    assert not Path(f"{laurel.ns.group}-data").exists()  # Faust's default, the working directory


def test_up_runs_a_three_broker_cluster_and_two_processor_workers() -> None:
    home = fresh_home()
    env = stack_env(home)
    try:
        up = laurel_cli(env, "up", "--brokers", "3", "--processors", "2", "--json")
        assert up.returncode == 0, up.stdout + up.stderr
        services = {s["name"]: s for s in json.loads(up.stdout)["services"]}
        assert {"kafka-1", "kafka-2", "kafka-3", "processor", "processor-2"} <= set(services)
        assert "kafka" not in services
        assert all(s["healthy"] for s in services.values()), services
        bootstrap = ",".join(services[f"kafka-{i}"]["address"] for i in (1, 2, 3))

        async def replicas() -> set[int]:
            admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
            await admin.start()
            try:
                described = await admin.describe_topics(["laurel.commands.v1"])
            finally:
                await admin.close()
            return {len(p["replicas"]) for t in described for p in t["partitions"]}

        assert asyncio.run(replicas()) == {3}
        held = [
            httpx.get(services[name]["metrics"], timeout=10).text
            for name in ("processor", "processor-2")
        ]
        assert all("laurel_processor_partitions_assigned" in text for text in held)

        status = json.loads(laurel_cli(env, "status", "--json").stdout)
        assert {s["name"] for s in status["services"]} == set(services)  # the size is kept
        assert len(status["partitions"]) == 6

        other = laurel_cli(env, "up", "--brokers", "1")
        assert other.returncode == 2
        assert "holds a 3-broker Kafka cluster" in other.stderr
    finally:
        down = laurel_cli(env, "down")
    assert down.returncode == 0, down.stderr
    for name in ("kafka", "processor-2"):
        assert name in down.stdout
    wait_for(lambda: processes_of(home) == [], 60, "every process of the stack to exit")
