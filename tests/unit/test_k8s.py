"""deploy/k8s rendered by kustomize (as ``kubectl apply -k`` would) and every resource
validated against the Kubernetes schemas, then its wiring checked: probes and ports the
processes serve, selectors that select, the commands the CLI has."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from laurel.cli import _parser
from laurel.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES = ("1.30", "1.37")
"""The oldest Kubernetes the manifests must still suit, and the newest the schemas know."""


def kustomize() -> str:
    found = ROOT / ".tools" / "kustomize"
    if found.exists():
        return str(found)
    on_path = shutil.which("kustomize")
    assert on_path, "kustomize is missing: `make .tools/kustomize` installs it (make test does)"
    return on_path


def render(directory: Path) -> list[dict[str, Any]]:
    built = subprocess.run(
        [kustomize(), "build", str(directory)], capture_output=True, text=True, check=False
    )
    assert built.returncode == 0, built.stderr
    return [doc for doc in yaml.safe_load_all(built.stdout) if doc]


TREES = {"base": K8S / "base", "example": K8S / "overlays" / "example"}


@pytest.fixture(scope="module", params=sorted(TREES))
def resources(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(TREES[request.param])


def of_kind(resources: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


def containers(resources: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for kind in ("Deployment", "Job"):
        for name, workload in of_kind(resources, kind).items():
            for container in workload["spec"]["template"]["spec"]["containers"]:
                yield name, container


@pytest.mark.parametrize("version", KUBERNETES)
def test_every_resource_validates_against_the_kubernetes_schemas(
    resources: list[dict[str, Any]], version: str
) -> None:
    for resource in resources:
        kubernetes_validate.validate(resource, version, strict=True)


def test_a_broken_manifest_fails_validation() -> None:
    deployment = of_kind(render(TREES["base"]), "Deployment")["laurel-api"]
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES[-1], strict=True)


def test_the_processes_laurel_runs_are_all_deployed(resources: list[dict[str, Any]]) -> None:
    run = {container["args"][0] for _, container in containers(resources)}
    assert run == {"api", "processor", "ranker", "webhooks", "migrate"}
    for command in run:  # each is a command of the image's entry point
        assert _parser().parse_args([command]).command == command


def test_probes_and_ports_are_what_the_processes_serve(resources: list[dict[str, Any]]) -> None:
    config = next(iter(of_kind(resources, "ConfigMap").values()))["data"]
    settings = Settings(**{k.removeprefix("LAUREL_").lower(): v for k, v in config.items()})
    assert settings.api_host == settings.ops_host == "0.0.0.0"
    for name, container in containers(resources):
        if container["args"] == ["migrate"]:
            continue
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        expected = settings.api_port if container["args"] == ["api"] else settings.ops_port
        assert list(ports.values()) == [expected], name
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready", name
        assert container["livenessProbe"]["httpGet"]["path"] == "/health/live", name
        assert container["resources"]["requests"], name
        assert container["resources"]["limits"]["memory"], name
        annotations = of_kind(resources, "Deployment")[name]["spec"]["template"]["metadata"]
        assert annotations["annotations"]["prometheus.io/port"] == str(expected), name


def test_selectors_select_and_the_config_is_found(resources: list[dict[str, Any]]) -> None:
    deployments = of_kind(resources, "Deployment")
    labels = {n: d["spec"]["template"]["metadata"]["labels"] for n, d in deployments.items()}
    for name, deployment in deployments.items():
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels[name].items()
    for pdb in of_kind(resources, "PodDisruptionBudget").values():
        selected = [
            n
            for n, lb in labels.items()
            if pdb["spec"]["selector"]["matchLabels"].items() <= lb.items()
        ]
        assert len(selected) == 1, pdb["metadata"]["name"]
    service = of_kind(resources, "Service")["laurel-api"]
    assert service["spec"]["selector"].items() <= labels["laurel-api"].items()
    hpa = of_kind(resources, "HorizontalPodAutoscaler")["laurel-api"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "laurel-api"
    config_maps, secrets = of_kind(resources, "ConfigMap"), of_kind(resources, "Secret")
    partitions = int(next(iter(config_maps.values()))["data"]["LAUREL_PARTITIONS"])
    assert deployments["laurel-processor"]["spec"]["replicas"] <= partitions
    for name, container in containers(resources):
        for source in container["envFrom"]:
            if "configMapRef" in source:
                assert source["configMapRef"]["name"] in config_maps, name
            elif secrets:  # the base leaves the Secret to the installation
                assert source["secretRef"]["name"] in secrets, name


def test_the_example_provides_the_secret_the_base_expects() -> None:
    secrets = of_kind(render(TREES["example"]), "Secret")
    assert len(secrets) == 1
    assert set(next(iter(secrets.values()))["data"]) == {
        "DATABASE_URL",
        "LAUREL_BOOTSTRAP_ADMIN_KEY",
    }
