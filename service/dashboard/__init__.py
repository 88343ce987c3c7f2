"""The dashboard: static files served by the server at `/`, polling the REST API."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


def mount_dashboard(app: FastAPI) -> None:
    """Serve the dashboard's static files at `/` (after the API routes are added)."""
    app.mount("/", StaticFiles(directory=STATIC, html=True), name="dashboard")
