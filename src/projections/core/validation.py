"""Rules a command must satisfy against the configuration in force when it was received.

The API checks them before publishing (to answer 4xx at once) and the processor checks them
again for records written straight to the topic; both call these functions.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from projections.core.model import AttributeType, ConfigHistory, MetricVersion
from projections.core.outcomes import RejectionCode


class RuleViolation(ValueError):
    """The command is well formed but not allowed; the message says why and ``code`` what kind
    of refusal it is (``invalid`` ones go to the dead-letter topic)."""

    def __init__(self, message: str, code: RejectionCode = "invalid") -> None:
        super().__init__(message)
        self.code: RejectionCode = code


def check_attribute_keys(
    config: ConfigHistory, tenant: str, kind: AttributeType, keys: Iterable[str], at: datetime
) -> None:
    """Raise :class:`RuleViolation` naming every undeclared ``kind`` attribute key."""
    known = config.attribute_keys_at(tenant, kind, at)
    unknown = [key for key in keys if key not in known]  # most events name none
    if unknown:
        raise RuleViolation(
            f"Invalid {kind} attribute keys: {', '.join(sorted(set(unknown)))}. "
            f"Declare them first with POST /admin/v1/attributes (type: {kind})."
        )


def check_metric_event(
    config: ConfigHistory,
    tenant: str,
    metric_key: str,
    event_attribute_keys: Iterable[str],
    user_attribute_keys: Iterable[str],
    at: datetime,
) -> MetricVersion:
    """The metric the event counts toward, after checking it exists and its attributes."""
    metric = config.metric_at(tenant, metric_key, at)
    if metric is None:
        raise RuleViolation(f"Metric with key {metric_key!r} not found")
    check_attribute_keys(config, tenant, "event", event_attribute_keys, at)
    check_attribute_keys(config, tenant, "user", user_attribute_keys, at)
    return metric


def check_streak_metrics(
    config: ConfigHistory, tenant: str, metrics: Iterable[tuple[str, float]], at: datetime
) -> None:
    """Streak metrics must be distinct existing metric keys with positive, finite thresholds."""
    seen: set[str] = set()
    for key, threshold in metrics:
        if key in seen:
            raise RuleViolation(f"metric {key!r} is listed twice")
        seen.add(key)
        if config.metric_at(tenant, key, at) is None:
            raise RuleViolation(f"Metric with key {key!r} not found")
        if not (0 < threshold < float("inf")):
            raise RuleViolation(f"the threshold of {key!r} must be a positive number")


def check_days_off(days: Iterable[int]) -> frozenset[int]:
    """Weekdays 0 (Sunday) … 6 (Saturday), at least one day left to count."""
    found = frozenset(days)
    if any(isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= 6 for d in found):
        raise RuleViolation("daysOff must hold weekdays from 0 (Sunday) to 6 (Saturday)")
    if len(found) == 7:
        raise RuleViolation("daysOff cannot hold every day of the week")
    return found
