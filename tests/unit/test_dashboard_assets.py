"""The dashboard's files: its chart library is shipped inside the package, pinned."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_dashboards_chart_library_is_the_pinned_one() -> None:
    # shipped inside the package (installations are often offline), and the same bytes as the
    # version package-lock.json pins (npm ci installs it for the tests)
    vendored = ROOT / "src/api/dashboard/static/vendor"
    installed = ROOT / "node_modules/uplot/dist"
    for name in ("uPlot.iife.min.js", "uPlot.min.css"):
        assert (vendored / name).read_bytes() == (installed / name).read_bytes(), name
