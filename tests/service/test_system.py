"""/healthz, /metrics, the OpenAPI document and the dashboard mount."""

from __future__ import annotations

import re

import psycopg
import pytest

from tests.service.helpers import API, call, claim, complete, create_search, report
from tests.support.databases import POSTGRES_ADMIN_URL, postgres_database


def test_healthz_answers_when_the_database_does(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json()["status"] == "ok"


def test_metrics_count_trials_claims_and_request_latency(client):
    search = create_search(client, budget={"max_trials": 2, "max_parallel": 2})
    complete(client, claim(client, search["id"]), 0.5)
    claim(client, search["id"])
    claim(client, search["id"])  # 204: budget spent
    text = client.get("/metrics").text
    assert 'caviar_trials{state="completed"} 1' in text
    assert 'caviar_trials{state="running"} 1' in text
    assert 'caviar_claims_total{result="assigned"} 2' in text
    assert 'caviar_claims_total{result="empty"} 1' in text
    route = 'method="POST",route="/api/v1/trials/claim"'
    assert f"caviar_request_duration_seconds_count{{{route}}} 3" in text
    assert re.search(rf'caviar_request_duration_seconds_bucket\{{{route},le="\+Inf"\}} 3', text)


def test_openapi_documents_every_route(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in ["/searches", "/searches/{search_id}", "/searches/{search_id}/cancel",
                 "/searches/{search_id}/trials", "/trials/{trial_id}",
                 "/trials/{trial_id}/stop", "/datasets", "/datasets/{dataset_id}/data",
                 "/trials/claim", "/trials/{trial_id}/heartbeat", "/trials/{trial_id}/report",
                 "/trials/{trial_id}/complete", "/trials/{trial_id}/fail", "/fleet"]:
        assert API + path in paths, path


def test_openapi_gives_the_worker_protocol_its_bodies_and_answers(client):
    schema = client.get("/openapi.json").json()
    components = schema["components"]["schemas"]
    for verb, body, answer in [("claim", "ClaimRequest", "Assignment"),
                               ("{trial_id}/report", "ReportRequest", "Action"),
                               ("{trial_id}/complete", "CompleteRequest", "TrialOut")]:
        operation = schema["paths"][f"{API}/trials/{verb}"]["post"]
        request = operation["requestBody"]["content"]["application/json"]["schema"]
        assert request == {"$ref": f"#/components/schemas/{body}"}
        ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok == {"$ref": f"#/components/schemas/{answer}"}
        assert body in components and answer in components
    report = components["ReportRequest"]
    assert {"lease_token", "epoch", "metrics", "reports"} <= set(report["properties"])
    assert "EpochMetrics" in components  # referenced by reports[]


def test_an_unexpected_error_is_a_json_500_and_logged(client, monkeypatch, caplog):
    from service.store import searches

    search = create_search(client)
    assignment = claim(client, search["id"])

    def broken(*_: object) -> None:
        raise RuntimeError("the store broke")

    monkeypatch.setattr(client.app.state.lifecycle, "heartbeat", broken)  # a worker route
    response = call(client, assignment, "heartbeat")
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error"}
    assert "the store broke" in caplog.text
    monkeypatch.setattr(searches, "list_searches", broken)  # a route of FastAPI's
    response = client.get(f"{API}/searches")
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error"}
    assert report(client, assignment, 0, 0.5)["action"] == "continue"  # the app still answers


def test_the_dashboard_is_served_at_the_root(client):
    response = client.get("/")
    assert response.status_code == 200 and "html" in response.headers["content-type"]


@pytest.mark.postgres
def test_a_lost_database_is_a_503_not_a_500():
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.settings import Settings

    with postgres_database() as url, TestClient(
        create_app(Settings.from_env({}, database_url=url)), raise_server_exceptions=False
    ) as client:
        assert client.get("/healthz").status_code == 200
        search = create_search(client)  # connections of each pool are now open, then lost
        assignment = claim(client, search["id"])
        report(client, assignment, 0, 0.5)
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        health = client.get("/healthz")
        assert health.status_code == 503 and health.json()["status"] == "unavailable"
        response = client.get(f"{API}/searches")
        assert response.status_code == 503
        assert "the database is unavailable" in response.json()["detail"]
        trial = f"/trials/{assignment['trial_id']}"
        for path, body in [
            ("/trials/claim", {"worker_id": "w", "search_id": search["id"]}),
            (f"{trial}/heartbeat", {"lease_token": assignment["lease_token"]}),
            (f"{trial}/report", {"lease_token": assignment["lease_token"], "epoch": 1,
                                 "metrics": {"dev_accuracy": 0.5}}),
            (f"{trial}/complete", {"lease_token": assignment["lease_token"],
                                   "metrics": {"dev_accuracy": 0.5}}),
        ]:
            response = client.post(f"{API}{path}", json=body)
            assert response.status_code == 503, (path, response.text)
            assert "the database is unavailable" in response.json()["detail"]
