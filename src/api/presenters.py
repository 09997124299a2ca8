"""Trophy's JSON shapes built from projection data, shared by the ingest and query routes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi.responses import JSONResponse

from ingest.contract import Command
from projections.store.reads import StoredOutcome

# Re-exported: the API writes instants the way the stored answers do.
from projections.store.trophy_json import iso as iso
from projections.store.trophy_json import user_json as user_json

EMPTY_STREAK: Mapping[str, Any] = {
    "length": 0,
    "frequency": "daily",
    "started": None,
    "periodStart": None,
    "periodEnd": None,
    "expires": None,
    "extended": False,
}
"""The streak of an event outcome stored before streaks existed."""


def event_json(event_id: str, outcome: Mapping[str, Any]) -> dict[str, Any]:
    """Trophy's ``EventResponse`` from a stored metric-event outcome."""
    body: dict[str, Any] = {
        "eventId": event_id,
        "metricId": outcome["metricId"],
        "total": outcome["total"],
        "achievements": list(outcome.get("achievements") or []),
        "currentStreak": dict(outcome.get("streak") or EMPTY_STREAK),
        "points": dict(outcome.get("points") or {}),
        "leaderboards": {},
    }
    if outcome.get("idempotencyKey") is not None:
        body["idempotencyKey"] = outcome["idempotencyKey"]
        body["idempotentReplayed"] = bool(outcome["idempotentReplayed"])
    return body


EventAnswer = Callable[[StoredOutcome], Awaitable[dict[str, Any]]]
"""Renders a stored metric-event outcome as the answer (adding the leaderboard ranks)."""


def pending_json(command_id: str, kind: str) -> dict[str, Any]:
    """The 202 answer when the outcome did not arrive in time (or was not waited for)."""
    return {
        "eventId": command_id,
        "status": "pending",
        "kind": kind,
        "outcome": f"/v1/events/{command_id}",
    }


def rejection_status(code: object) -> int:
    """The HTTP status for a rejected command's code."""
    return {"not_found": 404, "conflict": 409, "forbidden": 403}.get(str(code), 422)


def rejected(outcome: StoredOutcome) -> JSONResponse:
    """Trophy's error answer for a command the rules refused, with the status of its code."""
    return JSONResponse(
        {"error": outcome.body.get("error", "rejected")},
        status_code=rejection_status(outcome.body.get("code")),
    )


def settled(command: Command, outcome: StoredOutcome | None) -> StoredOutcome | JSONResponse:
    """A submitted command's outcome once it applied; otherwise the answer to give instead:
    202 while it is pending (or was not waited for), the rejection's error when refused."""
    if outcome is None:
        return JSONResponse(pending_json(str(command.id), command.type), status_code=202)
    if outcome.status == "rejected":
        return rejected(outcome)
    return outcome
