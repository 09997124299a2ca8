"""Trophy's official Node SDK against a running Laurel: runs tests/e2e/node/ with Node's own test
runner (the SDK and its version come from the repository's package-lock.json; ``npm ci``
installs them)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.processes import LaurelProcesses

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SUITE = Path(__file__).with_name("node")


def node_modules() -> Path:
    """The installed packages, or a failure that says how to install them."""
    installed = ROOT / "node_modules" / "@trophyso" / "node"
    if shutil.which("node") is None or not installed.is_dir():
        pytest.fail("the Node SDK tests need node and `npm ci` in the repository's root")
    return installed


def test_the_node_sdk_suite_passes(laurel: LaurelProcesses) -> None:
    node_modules()
    run = subprocess.run(
        ["node", "--test", "--test-reporter=tap", *sorted(map(str, SUITE.glob("*.test.mjs")))],
        env={**laurel.env(), "LAUREL_URL": laurel.base_url, "LAUREL_ADMIN_KEY": laurel.admin_key},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report = run.stdout + run.stderr
    assert run.returncode == 0, report
    counts = dict(re.findall(r"^# (pass|fail|skipped|todo) (\d+)$", run.stdout, re.MULTILINE))
    assert counts["fail"] == counts["skipped"] == counts["todo"] == "0", report
    assert int(counts["pass"]) >= 10, report  # every scenario of the suite ran
