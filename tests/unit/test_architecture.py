"""The import rules of DESIGN.md, checked on the source tree."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
STDLIB_OK = {
    "__future__",
    "collections",
    "dataclasses",
    "datetime",
    "functools",
    "typing",
    "uuid",
    "zoneinfo",
    "math",
    "enum",
    "itertools",
    "bisect",
    "heapq",
}


def imports(package: str) -> dict[Path, set[str]]:
    found: dict[Path, set[str]] = {}
    for path in (SRC / package.replace(".", "/")).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[path] = names
    return found


def test_core_imports_only_the_standard_library_and_itself() -> None:
    for path, names in imports("projections.core").items():
        bad = {
            n
            for n in names
            if n.split(".")[0] not in STDLIB_OK and not n.startswith("projections.core")
        }
        assert not bad, f"{path} imports {bad}"


def test_nothing_imports_processors_but_the_composition_root() -> None:
    for package in ("ingest", "projections"):
        for path, names in imports(package).items():
            assert not {n for n in names if n.startswith("processors")}, path


def test_query_routes_import_only_projections() -> None:
    for path, names in imports("projections.query").items():
        assert not {n for n in names if n.split(".")[0] in ("ingest", "processors", "laurel")}, path


def test_only_the_settings_module_reads_the_environment() -> None:
    for package in ("ingest", "processors", "projections", "laurel"):
        for path in (SRC / package).rglob("*.py"):
            if path.name == "settings.py":
                continue
            assert "os.environ" not in path.read_text(), path
