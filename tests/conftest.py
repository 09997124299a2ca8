"""Fixtures: real Kafka and PostgreSQL per session, an isolated namespace per test module."""

from __future__ import annotations

from collections.abc import Generator, Iterator

import pytest

from tests.support.infra import Infra, Namespace, new_namespace, provide_infra
from tests.support.processes import LaurelProcesses, running


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    with provide_infra() as found:
        yield found


@pytest.fixture
def namespace(infra: Infra) -> Namespace:
    """A fresh database and topics for one test."""
    return new_namespace(infra)


@pytest.fixture(scope="module")
def module_namespace(infra: Infra) -> Namespace:
    return new_namespace(infra)


@pytest.fixture(scope="module")
def laurel(module_namespace: Namespace) -> Iterator[LaurelProcesses]:
    """The api and the processor running against this module's namespace."""
    with running(module_namespace) as procs:
        yield procs


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test that ran Laurel's processes reports the end of the processor's log: on CI
    the temporary directory that holds it is gone by the time anyone reads the failure."""
    report = yield
    procs = getattr(item, "funcargs", {}).get("laurel")
    if report.failed and isinstance(procs, LaurelProcesses):
        report.sections.append(("processor log (its end)", procs.processor_log()[-6000:]))
    return report
