"""Helpers of the server's tests: specs, a worker speaking the protocol, table dumps."""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import create_engine, inspect, text

API = "/api/v1"


def make_spec(**overrides: Any) -> dict[str, Any]:
    """A small valid spec; keyword arguments replace top-level sections."""
    spec: dict[str, Any] = {
        "name": "test-search",
        "dataset": "digits",
        "objective": {"metric": "dev_accuracy", "goal": "maximize"},
        "budget": {"max_trials": 4, "max_parallel": 2, "max_attempts": 2},
        "sampler": {"kind": "random", "seed": 7},
        "early_stopping": {"kind": "none"},
        "parameters": {
            "learning_rate": {"type": "float", "low": 1e-4, "high": 1.0, "scale": "log"},
            "hidden_units": {"type": "int", "low": 50, "high": 100},
        },
        "fixed": {"optimizer": "adam", "epochs": 5},
    }
    spec.update(copy.deepcopy(overrides))
    return spec


def create_search(client: Any, **overrides: Any) -> dict[str, Any]:
    """POST a spec; assert 201; return the Search."""
    response = client.post(f"{API}/searches", json=make_spec(**overrides))
    assert response.status_code == 201, response.text
    return response.json()


def claim(client: Any, search_id: int | None = None, worker_id: str = "w/1",
          claim_key: str | None = None) -> dict[str, Any] | None:
    """Claim a trial: the Assignment, or None on 204."""
    body: dict[str, Any] = {"worker_id": worker_id}
    if search_id is not None:
        body["search_id"] = search_id
    if claim_key is not None:
        body["claim_key"] = claim_key
    response = client.post(f"{API}/trials/claim", json=body)
    assert response.status_code in (200, 204), response.text
    return response.json() if response.status_code == 200 else None


def call(client: Any, assignment: dict[str, Any], verb: str, **body: Any) -> Any:
    """POST /trials/{id}/{verb} with the assignment's lease token and the body."""
    return client.post(f"{API}/trials/{assignment['trial_id']}/{verb}",
                       json={"lease_token": assignment["lease_token"], **body})


def report(client: Any, assignment: dict[str, Any], epoch: int, accuracy: float) -> dict:
    """Report one epoch; assert 200; return the action answer."""
    response = call(client, assignment, "report", epoch=epoch,
                    metrics={"dev_accuracy": accuracy, "train_loss": 1.0 - accuracy,
                             "dev_loss": 1.0 - accuracy, "learning_rate": 0.01,
                             "seconds": 0.1})
    assert response.status_code == 200, response.text
    return response.json()


def complete(client: Any, assignment: dict[str, Any], accuracy: float) -> dict[str, Any]:
    """Complete the trial; assert 200; return the Trial."""
    response = call(client, assignment, "complete",
                    metrics={"dev_accuracy": accuracy, "dev_loss": 1 - accuracy})
    assert response.status_code == 200, response.text
    return response.json()


def get_search(client: Any, search_id: int) -> dict[str, Any]:
    """GET the Search; assert 200."""
    response = client.get(f"{API}/searches/{search_id}")
    assert response.status_code == 200, response.text
    return response.json()


def dump_tables(database_url: str) -> dict[str, list[tuple]]:
    """Every row of every table, ordered by its key: to prove a request changed nothing."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            inspector = inspect(connection)
            tables = [t for t in inspector.get_table_names() if t != "alembic_version"]
            keys = {t: ", ".join(inspector.get_pk_constraint(t)["constrained_columns"])
                    for t in tables}
            return {
                table: [tuple(row) for row in connection.execute(
                    text(f"SELECT * FROM {table} ORDER BY {keys[table]}"))]
                for table in sorted(tables)
            }
    finally:
        engine.dispose()
