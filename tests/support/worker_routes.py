"""The two ways an in-process app serves the worker protocol, for the `worker_routes` fixture
(tests/conftest.py): service.api.dispatch, as the server does, and FastAPI's routes only."""

from __future__ import annotations

import pytest

BOTH_WORKER_ROUTES = pytest.mark.parametrize("worker_routes", ["dispatch", "fastapi"],
                                             indirect=True)
"""Mark a test module with it (`pytestmark = BOTH_WORKER_ROUTES`) to run it both ways."""
