"""The Grafana dashboard in deploy/grafana queries only series Laurel's processes export."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import CollectorRegistry

from api.metrics import ApiMetrics
from processors.metrics import ProcessorMetrics, RankerMetrics
from processors.webhooks.metrics import DeliveryMetrics

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "laurel.json"
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def exported() -> set[str]:
    """Every series name the four processes' instruments can produce."""
    registry = CollectorRegistry()
    ApiMetrics(registry).watch_waiters(lambda: 0)
    ProcessorMetrics(registry)
    RankerMetrics(registry)
    DeliveryMetrics(registry)
    return {
        family.name + suffix for family in registry.collect() for suffix in SUFFIXES[family.type]
    }


def queried() -> set[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    exprs = [t["expr"] for p in panels for t in p.get("targets", [])]
    assert len(exprs) > 20
    return {name for expr in exprs for name in re.findall(r"\blaurel_[a-z_]+", expr)}


def test_every_queried_series_is_exported() -> None:
    assert queried() - exported() == set()


def test_the_dashboard_covers_every_process() -> None:
    prefixes = {name.split("_")[1] for name in queried()}
    assert {"http", "sync", "processor", "scheduler", "ranker", "webhook"} <= prefixes
