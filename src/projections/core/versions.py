"""Configuration versions: each holds over an interval of time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Versioned:
    """The interval [valid_from, valid_to) in which one version of a configuration row holds."""

    valid_from: datetime
    valid_to: datetime | None

    def holds_at(self, at: datetime) -> bool:
        """Whether this version is the one in force at ``at``."""
        return self.valid_from <= at and (self.valid_to is None or at < self.valid_to)
