"""What routes take from the app: the database, settings and metrics; path-id types."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Request

from domain.protocol import MAX_ID
from service.db.session import Database
from service.metrics import Metrics
from service.settings import Settings
from service.store.importance_view import ImportanceCache
from service.store.lifecycle import Lifecycle

API_PREFIX = "/api/v1"

SearchId = Annotated[int, Path(ge=1, le=MAX_ID, description="a search's id")]
TrialId = Annotated[int, Path(ge=1, le=MAX_ID, description="a trial's id")]
DatasetId = Annotated[int, Path(ge=1, le=MAX_ID, description="a dataset's id")]


def database(request: Request) -> Database:
    """The app's database."""
    return request.app.state.db


def lifecycle(request: Request) -> Lifecycle:
    """The app's store of the lifecycle's calls."""
    return request.app.state.lifecycle


def settings(request: Request) -> Settings:
    """The app's settings."""
    return request.app.state.settings


def metrics(request: Request) -> Metrics:
    """The app's metrics."""
    return request.app.state.metrics


def importances(request: Request) -> ImportanceCache:
    """The app's parameter importances, remembered per search and completed trials."""
    return request.app.state.importances
