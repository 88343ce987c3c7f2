"""The FastAPI application: routes, error answers, metrics, the lease sweep, the dashboard.

`create_app(settings)` opens the database and brings its schema to the latest
Alembic revision before returning, so a bad database URL fails at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from domain.roles import Role
from service.api import (
    analysis,
    checkpoints,
    datasets,
    fleet,
    retests,
    searches,
    system,
    tokens,
    trials,
    worker,
)
from service.api.body_limits import BodyLimits
from service.api.db_calls import DatabaseCalls
from service.api.dispatch import WorkerDispatch
from service.api.errors import install_error_handlers
from service.auth.guard import Guard, GuardMiddleware
from service.auth.tokens import has_live_tokens
from service.dashboard import mount_dashboard
from service.db.migrate import upgrade_to_head
from service.db.outage import UNAVAILABLE, unavailable_reason
from service.db.session import Database
from service.metrics import Metrics
from service.settings import Settings
from service.store import open_lifecycle
from service.store.importance_view import ImportanceCache
from service.store.lifecycle import Lifecycle

log = logging.getLogger("caviar.server")


class CaviarApp(FastAPI):
    """FastAPI, with the worker protocol's routes answered ahead of every middleware by
    `dispatch` (service.api.dispatch), unless it is None."""

    dispatch: WorkerDispatch | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        matched = None if self.dispatch is None else self.dispatch.match(scope)
        if matched is not None and self.dispatch is not None:
            await self.dispatch.serve(self.state, matched, scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI document. A server that runs without tokens documents no bearer
        scheme: it takes none, and a client reading the document should not send one."""
        if self.openapi_schema is None:
            document = super().openapi()
            if not self.state.guard.required:
                document.get("components", {}).pop("securitySchemes", None)
                for operations in document["paths"].values():
                    for operation in operations.values():
                        operation.pop("security", None)
                        operation.get("responses", {}).pop("401", None)
            self.openapi_schema = document
        return self.openapi_schema


class LatencyMiddleware:
    """Records each HTTP request's duration under its route's path template."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "(other)"
            self.metrics.observe(scope["method"], path, time.perf_counter() - start)


async def _sweep_leases(lifecycle: Lifecycle, every: float) -> None:
    """Every few seconds, take back the trials whose lease ran out, so counts stay true."""
    while True:
        await asyncio.sleep(every)
        await _sweep_once(lifecycle)


async def _sweep_once(lifecycle: Lifecycle) -> None:
    """Take back the trials whose lease ran out; log, and go on, if the database fails."""
    try:
        released = await asyncio.to_thread(lifecycle.requeue_expired)
    except UNAVAILABLE as error:
        log.warning("lease sweep skipped: the database is unavailable: %s",
                    unavailable_reason(error))
        return
    except Exception:  # noqa: BLE001 - keep sweeping after a transient database error
        log.exception("lease sweep failed")
        return
    if released:
        log.info("released %d expired lease(s)", released)


def requires_tokens(settings: Settings, db: Database) -> bool:
    """Whether the server requires tokens: CAVIAR_AUTH, and in `auto` mode whether the
    database holds a live token when the server starts."""
    if settings.auth == "auto":
        return has_live_tokens(db)
    return settings.auth == "required"


def create_app(settings: Settings | None = None, fast_worker_routes: bool = True
               ) -> CaviarApp:
    """The server app for the settings (default: from the environment).

    `fast_worker_routes=False` serves the worker protocol through FastAPI's routing
    only (the tests run it both ways).
    """
    settings = settings or Settings.from_env()
    db = Database(settings.database_url, settings.db_timeout_seconds)
    upgrade_to_head(db.write_engine)
    counters = Metrics()
    db_calls = DatabaseCalls(settings.db_timeout_seconds)
    lifecycle = open_lifecycle(db, settings.lease_seconds, settings.postgres_fast_path)
    guard = Guard(db, requires_tokens(settings, db), rates={
        Role.ADMIN: settings.rate_limit, Role.USER: settings.rate_limit,
        Role.READER: settings.rate_limit, Role.WORKER: settings.worker_rate_limit})

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Before the first call: a lease that ran out while no server ran (a crash, a
        # restart) is taken back now, not raced by its worker's next heartbeat.
        await _sweep_once(lifecycle)
        sweeper = asyncio.create_task(_sweep_leases(lifecycle, settings.requeue_seconds))
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            db_calls.close()
            db.dispose()

    app = CaviarApp(
        title="Caviar",
        version="0.1.0",
        summary="Hyperparameter search: searches, trials and the worker protocol.",
        lifespan=lifespan,
    )
    app.state.db = db
    app.state.db_calls = db_calls
    app.state.lifecycle = lifecycle
    app.state.settings = settings
    app.state.metrics = counters
    app.state.importances = ImportanceCache()
    app.state.guard = guard
    install_error_handlers(app)
    for module in (searches, retests, analysis, trials, worker, checkpoints, datasets, tokens,
                   fleet, system):
        app.include_router(module.router)
    app.add_middleware(BodyLimits, settings=settings)
    app.add_middleware(GuardMiddleware, guard=guard)
    app.add_middleware(LatencyMiddleware, metrics=counters)
    if fast_worker_routes:
        app.dispatch = WorkerDispatch(worker.ROUTES)
    mount_dashboard(app)
    return app
