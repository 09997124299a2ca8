"""End-to-end fixtures: a module that defines ``DAY_ONE`` runs Laurel on a clock file starting
then (moved by the tests through ``clock``); other modules run on the real time."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.clock import ClockFile, running_on
from tests.support.infra import Namespace
from tests.support.processes import LaurelProcesses, running


@pytest.fixture(scope="module")
def clock(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> ClockFile:
    return ClockFile(tmp_path_factory.mktemp("clock") / "now", request.module.DAY_ONE)


@pytest.fixture(scope="module")
def laurel(
    request: pytest.FixtureRequest, module_namespace: Namespace
) -> Iterator[LaurelProcesses]:
    """The api and the processor, on the module's clock when it has a ``DAY_ONE``, with the
    module's ``ENV`` (settings) if it has one."""
    env = getattr(request.module, "ENV", None)
    if hasattr(request.module, "DAY_ONE"):
        clock: ClockFile = request.getfixturevalue("clock")
        with running_on(module_namespace, clock, env) as procs:
            yield procs
    else:
        with running(module_namespace, env) as procs:
            yield procs
