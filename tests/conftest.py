"""Fixtures: real Kafka and PostgreSQL per session, an isolated namespace per test module."""

from __future__ import annotations

from collections.abc import Iterator

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
