"""compose.yaml cannot run here (no Docker engine); check its services and their wiring."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_services_and_health_checks() -> None:
    services = compose()["services"]
    assert set(services) == {"kafka", "postgres", "api", "processor", "ranker", "webhooks"}
    for name in ("kafka", "postgres", "api", "processor", "ranker", "webhooks"):
        assert "healthcheck" in services[name], name
    for name in ("api", "processor", "ranker", "webhooks"):  # the readiness Laurel serves
        assert "/health/ready" in " ".join(services[name]["healthcheck"]["test"]), name
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"


def test_laurel_processes_point_at_the_stack_and_wait_for_it() -> None:
    services = compose()["services"]
    pg = services["postgres"]["environment"]
    for name in ("api", "processor", "ranker", "webhooks"):
        service = services[name]
        env = service["environment"]
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
        assert env["LAUREL_OPS_HOST"] == "0.0.0.0"  # reachable by the health check and scrapers
        assert env["DATABASE_URL"] == (
            f"postgresql://{pg['POSTGRES_USER']}:{pg['POSTGRES_PASSWORD']}@postgres:5432/"
            f"{pg['POSTGRES_DB']}"
        )
        assert service["depends_on"]["kafka"]["condition"] == "service_healthy"
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert service["command"] == [name]
        assert (ROOT / service["build"]["dockerfile"]).exists()
    assert services["api"]["ports"] == ["8080:8080"]
