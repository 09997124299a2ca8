"""Routes Laurel answers deliberately with 404 and words, instead of a bare "Not Found".

Kept out of the OpenAPI document, which describes only what Laurel implements.
"""

from __future__ import annotations

from typing import NoReturn

from fastapi import APIRouter

from api.requests import fail

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]

USER_NOT_YET = {
    "wrapped": "wrapped (year in review)",
}


def _not_yet(feature: str) -> NoReturn:
    fail(404, f"{feature} are not implemented in this version of Laurel (see the README)")


def _route(router: APIRouter, path: str, feature: str) -> None:
    async def endpoint() -> None:
        _not_yet(feature)

    router.add_api_route(path, endpoint, methods=METHODS, include_in_schema=False)


def build_application_router() -> APIRouter:
    """The Application API's deliberate 404s: wrapped, streak rankings."""
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
    for part, feature in USER_NOT_YET.items():
        _route(router, f"/users/{{id}}/{part}", feature)
        _route(router, f"/users/{{id}}/{part}/{{rest:path}}", feature)
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
