"""Text the projections can store: PostgreSQL's ``text`` and ``jsonb`` refuse NUL characters."""

from __future__ import annotations

from typing import Any


def nul_path(value: Any, where: str) -> str | None:
    """The path of the first string (key or value) in ``value`` containing NUL, else ``None``."""
    if isinstance(value, str):
        return where if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and "\x00" in key:
                return f"{where} (a key)"
            found = nul_path(item, f"{where}.{key}")
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = nul_path(item, f"{where}[{index}]")
            if found:
                return found
    return None
