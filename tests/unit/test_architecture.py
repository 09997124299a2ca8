"""The import rules of the architecture (DESIGN.md, "Layout"), checked on the source tree.

Each rule is data: which modules it governs and which imports it forbids them. Every rule is
checked on ``src/`` and, so that a rule that can no longer fail is noticed, on a module written
to break it.
"""

from __future__ import annotations

import ast
import functools
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
HTTP_FRAMEWORKS = ("fastapi", "starlette")


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(source: str) -> set[str]:
    """Every module ``source`` imports (absolute imports; the tree uses no relative ones)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@functools.cache
def tree() -> dict[str, set[str]]:
    """Module name → what it imports, for every module under ``src/``."""
    return {
        module_name(path): imported(path.read_text())
        for path in SRC.rglob("*.py")
        if ".egg-info" not in str(path)
    }


def within(name: str, *packages: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


@dataclass(frozen=True)
class Rule:
    """Modules for which ``governs`` holds may not import a name for which ``forbids`` holds."""

    says: str
    governs: Callable[[str], bool]
    forbids: Callable[[str], bool]

    def violations(self, modules: dict[str, set[str]]) -> list[str]:
        return sorted(
            f"{module} imports {name}"
            for module, names in modules.items()
            if self.governs(module)
            for name in names
            if self.forbids(name)
        )


def _core_may_import(name: str) -> bool:
    top = name.split(".")[0]
    return within(name, "projections.core") or top in sys.stdlib_module_names or top == "tzdata"


RULES = {
    "http": Rule(
        "only the HTTP package (api) and the composition root (laurel) import FastAPI/Starlette",
        lambda m: not within(m, "api", "laurel"),
        lambda n: within(n, *HTTP_FRAMEWORKS),
    ),
    "core": Rule(
        "projections.core imports only the standard library, tzdata and itself",
        lambda m: within(m, "projections.core"),
        lambda n: not _core_may_import(n),
    ),
    "projections": Rule(
        "projections (core, store) imports none of ingest, api, processors, laurel",
        lambda m: within(m, "projections"),
        lambda n: within(n, "ingest", "api", "processors", "laurel"),
    ),
    "ingest": Rule(
        "ingest imports neither the HTTP package, processors, laurel nor projections.query",
        lambda m: within(m, "ingest"),
        lambda n: within(n, "api", "processors", "laurel", "projections.query"),
    ),
    "processors": Rule(
        "processors import neither the composition root (laurel) nor the HTTP package",
        lambda m: within(m, "processors"),
        lambda n: within(n, "laurel", "api"),
    ),
    "composition": Rule(
        "nothing but the composition root (laurel) imports processors",
        lambda m: not within(m, "laurel", "processors"),
        lambda n: within(n, "processors"),
    ),
}

BREAKING = {
    "http": ("ingest.rogue", "from fastapi import APIRouter"),
    "core": ("projections.core.rogue", "import psycopg"),
    "projections": ("projections.store.rogue", "from ingest.contract import decode"),
    "ingest": ("ingest.rogue", "from api.auth import principal"),
    "processors": ("processors.rogue", "from laurel.settings import Settings"),
    "composition": ("api.rogue", "from processors.app import build_app"),
}


@pytest.mark.parametrize("rule", RULES)
def test_the_tree_keeps_the_rule(rule: str) -> None:
    assert RULES[rule].violations(tree()) == [], RULES[rule].says


@pytest.mark.parametrize("rule", RULES)
def test_the_rule_catches_a_module_that_breaks_it(rule: str) -> None:
    module, source = BREAKING[rule]
    modules = tree() | {module: imported(source)}
    assert RULES[rule].violations(modules) == [f"{module} imports {imported(source).pop()}"]


def test_every_package_is_governed_by_some_rule() -> None:
    """A new top-level package must be placed in the rules (and the README's layout)."""
    packages = {name.split(".")[0] for name in tree()}
    assert packages == {"api", "ingest", "laurel", "processors", "projections"}


def _source_files(packages: Iterable[str]) -> Iterable[Path]:
    for package in packages:
        yield from (SRC / package).rglob("*.py")


def test_only_the_settings_module_reads_the_environment() -> None:
    for path in _source_files(("api", "ingest", "processors", "projections", "laurel")):
        if path.name == "settings.py":
            continue
        assert "os.environ" not in path.read_text(), path
