"""The dashboard: static files served by the server at `/`, polling the REST API.

Each of the dashboard's folders is mounted on its own, and its top-level files
are routes of their own, rather than one static mount at `/`: a mount at `/`
would take every request no API route fully matches, and answer a request of
the API with a method it does not allow (OPTIONS /api/v1/searches, say) with
the static files' 405 and their `Allow: GET, HEAD` instead of the API's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


def mount_dashboard(app: FastAPI) -> None:
    """Serve the dashboard's files: `/` is its page, `/js/...` and the like its assets."""
    for path in sorted(STATIC.iterdir()):
        if path.is_dir():
            app.mount(f"/{path.name}", StaticFiles(directory=path), name=f"dashboard-{path.name}")
        else:
            url = "/" if path.name == "index.html" else f"/{path.name}"
            app.add_api_route(url, _file_endpoint(path), methods=["GET"],
                              include_in_schema=False, name=f"dashboard {path.name}")


def _file_endpoint(path: Path) -> Callable[[], Awaitable[FileResponse]]:
    async def serve() -> FileResponse:
        return FileResponse(path)

    return serve
