"""Trial listings (built from JSON text the database renders) against a plain serialization.

The oracle reads the trials table with SQLAlchemy (JSON columns decoded,
timestamps as datetimes) and serializes each trial the straightforward way:
the fields of docs/api.md, `isoformat(timespec="milliseconds") + "Z"`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa

from service.api.schemas import TRIAL_FIELDS, TrialOut
from service.db.models import Trial
from tests.service.helpers import API, call, claim, complete, create_search, report

FIELDS = TRIAL_FIELDS  # the shape of schemas.TrialOut, in its order
UNICODE_PARAMS = {"learning_rate": 1e-05, "hidden_units": 64, "note": 'ñ–😀 "q" \\'}
UNICODE_ERROR = 'ValueError: perte non finie – ε="∞" \\ 😀\n\ttab \u0001 (epoch 3)'


def expected_trials(database_url: str, search_id: int) -> dict[int, dict[str, Any]]:
    """Every trial of the search, serialized straightforwardly, by id."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.select(Trial.__table__)
                                      .where(Trial.search_id == search_id)).all()
    finally:
        engine.dispose()
    trials = {}
    for row in rows:
        trial = {name: getattr(row, name) for name in FIELDS}
        for name, moment in trial.items():
            if isinstance(moment, datetime):
                trial[name] = moment.isoformat(timespec="milliseconds") + "Z"
        trials[trial["id"]] = trial
    return trials


def set_columns(database_url: str, trial_id: int, **values: Any) -> None:
    """Change a trial's stored columns directly (values the API cannot produce on demand)."""
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.update(Trial.__table__).where(Trial.id == trial_id)
                               .values(**values))
    finally:
        engine.dispose()


@pytest.fixture
def search_of_every_kind(client: Any, database_url: str) -> dict[str, Any]:
    """A search whose trials cover each state: completed, failed (unicode error), stopped,
    running with a lease and reports, pending again after a retry; unicode in stored params."""
    search = create_search(client,
                           budget={"max_trials": 8, "max_parallel": 8, "max_attempts": 3})
    done, failed, stopped, running, retried = (claim(client, search["id"]) for _ in range(5))
    report(client, done, 0, 0.31)
    complete(client, done, 0.1 + 0.2)  # a value whose repr needs 17 digits
    report(client, failed, 0, 0.5)
    assert call(client, failed, "fail", error=UNICODE_ERROR, retry=False).status_code == 200
    report(client, stopped, 0, 0.6)
    assert client.post(f"{API}/trials/{stopped['trial_id']}/stop").status_code == 200
    report(client, running, 0, 0.4)
    report(client, running, 1, 0.45)
    assert call(client, retried, "fail", error="worker shut down", retry=True).status_code == 200
    set_columns(database_url, done["trial_id"], params=UNICODE_PARAMS)
    # Timestamps whose milliseconds are truncated (not rounded), and a zero fraction.
    set_columns(database_url, running["trial_id"],
                started_at=datetime(2026, 1, 2, 3, 4, 5, 999_999),
                lease_expires_at=datetime(2026, 1, 2, 3, 5, 0))
    return search


def listing(client: Any, search_id: int, **params: Any) -> dict[str, Any]:
    response = client.get(f"{API}/searches/{search_id}/trials", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return json.loads(response.content)


def test_since_zero_equals_a_plain_serialization(client, database_url, search_of_every_kind):
    search_id = search_of_every_kind["id"]
    expected = expected_trials(database_url, search_id)
    body = listing(client, search_id, since=0)
    assert set(body) == {"items", "cursor", "has_more"} and body["has_more"] is False
    assert [list(item) for item in body["items"]] == [list(FIELDS)] * len(expected)
    assert body["items"] == sorted(expected.values(), key=lambda t: t["seq"])
    for item in body["items"]:
        TrialOut.model_validate(item)
    assert body["cursor"] == max(t["seq"] for t in expected.values())
    by_status = {t["status"]: t for t in body["items"]}
    assert by_status["failed"]["error"] == UNICODE_ERROR
    assert by_status["pending"]["metrics"] is None and by_status["pending"]["value"] is None
    assert by_status["completed"]["value"] == 0.1 + 0.2
    assert by_status["running"]["started_at"] == "2026-01-02T03:04:05.999Z"
    assert by_status["running"]["lease_expires_at"] == "2026-01-02T03:05:00.000Z"
    assert by_status["completed"]["params"] == UNICODE_PARAMS


def test_pages_equal_a_plain_serialization(client, database_url, search_of_every_kind):
    search_id = search_of_every_kind["id"]
    expected = expected_trials(database_url, search_id)
    by_number = sorted(expected.values(), key=lambda t: t["number"])
    cursor = max(t["seq"] for t in expected.values())
    first = listing(client, search_id, limit=3)
    rest = listing(client, search_id, limit=3, offset=3)
    assert first == {"items": by_number[:3], "total": len(expected), "cursor": cursor}
    assert rest == {"items": by_number[3:], "total": len(expected), "cursor": cursor}
    by_value = sorted(expected.values(),
                      key=lambda t: (t["value"] is None, -(t["value"] or 0), t["number"]))
    assert listing(client, search_id, order="value")["items"] == by_value
    failed = listing(client, search_id, status="failed")
    assert failed["items"] == [t for t in by_number if t["status"] == "failed"]
    assert failed["total"] == 1


def test_an_empty_listing_is_valid_json(client):
    search = create_search(client)
    assert listing(client, search["id"]) == {"items": [], "total": 0, "cursor": 0}
    assert listing(client, search["id"], since=0) == {"items": [], "cursor": 0,
                                                      "has_more": False}


def test_a_stored_time_without_fraction_reads_as_milliseconds_zero(client, database_url):
    """SQLite stores times as text; one written without a fraction still reads as .000Z."""
    search = create_search(client)
    trial_id = claim(client, search["id"])["trial_id"]
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("UPDATE trials SET started_at = '2026-03-04 05:06:07' "
                                       "WHERE id = :id"), {"id": trial_id})
    finally:
        engine.dispose()
    [item] = listing(client, search["id"], since=0)["items"]
    assert item["started_at"] == "2026-03-04T05:06:07.000Z"
    assert item == expected_trials(database_url, search["id"])[trial_id]
