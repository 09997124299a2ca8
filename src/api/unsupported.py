"""Routes Laurel answers deliberately with 404 and words, instead of a bare "Not Found".

Kept out of the OpenAPI document, which describes only what Laurel implements.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.requests import fail

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def build_application_router() -> APIRouter:
    """The Application API's deliberate 404s: streak rankings."""
    router = APIRouter()

    async def streak_rankings() -> None:
        fail(
            404,
            "streak rankings (GET /streaks/rankings) were removed from Trophy's API and are not "
            "implemented by Laurel: rank users by streak with a leaderboard (rankBy: streak)",
        )

    router.add_api_route(
        "/streaks/rankings", streak_rankings, methods=METHODS, include_in_schema=False
    )
    return router


def build_admin_router() -> APIRouter:
    """The Admin API's deliberate 404: account settings."""
    router = APIRouter()

    async def settings() -> None:
        fail(
            404,
            "account settings are not supported by Laurel: it sends no emails (branding, "
            "aggregationPeriod) and runs no experiments (controlRatio); see the README",
        )

    router.add_api_route("/settings", settings, methods=METHODS, include_in_schema=False)
    return router
