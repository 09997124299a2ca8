"""The dashboard: a small static app served at ``/dashboard`` that signs in with an admin key
(kept in the browser's session storage, sent as ``X-API-KEY``: never in a URL or a cookie) and
draws the Admin API's analytics. Its chart library (uPlot) is shipped inside the package, so an
installation without internet access draws the same charts."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"

# Only what the app's own files do: scripts, styles and data from this origin, no framing.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def mount(app: FastAPI) -> None:
    """Serve the dashboard at ``/dashboard`` (its files under ``/dashboard/static``)."""
    app.mount("/dashboard/static", StaticFiles(directory=STATIC), name="dashboard-static")

    @app.get("/dashboard", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers=SECURITY_HEADERS)
