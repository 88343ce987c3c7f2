"""/openapi.json tells the truth: real answers of every route, checked against it."""

from __future__ import annotations

import hashlib
import io
import re
from typing import Any

import httpx
import numpy as np
import pytest
from jsonschema import Draft202012Validator

from tests.service.helpers import (
    API,
    call,
    claim,
    complete,
    create_search,
    make_spec,
    report,
)
from tests.support.worker_routes import BOTH_WORKER_ROUTES

pytestmark = BOTH_WORKER_ROUTES


def closed(schema: Any) -> Any:
    """The schema with every object that lists its properties closed to others, so that an
    answer with a field its model does not document fails (answers are built as dicts by
    service.api.views: this ties them to the models)."""
    if isinstance(schema, dict):
        schema = {key: closed(value) for key, value in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
    elif isinstance(schema, list):
        schema = [closed(value) for value in schema]
    return schema


class Documented:
    """Checks answers against the app's /openapi.json, and remembers which operations and
    statuses were seen."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.openapi = client.get("/openapi.json").json()
        self.components = closed(self.openapi["components"])
        self.seen: set[tuple[str, str]] = set()

    def __call__(self, method: str, path: str, expected: int, **kwargs: Any) -> httpx.Response:
        """Send the request, check its status and its answer against the document."""
        response = self.client.request(method, path, **kwargs)
        assert response.status_code == expected, response.text
        template = self.template(path.split("?")[0])
        operation = self.openapi["paths"][template][method.lower()]
        documented = operation["responses"].get(str(expected))
        assert documented is not None, f"{method} {template} answered an undocumented {expected}"
        self.seen.add((method.upper(), template))
        content = documented.get("content", {})
        media = response.headers.get("content-type", "").split(";")[0]
        if expected == 204:
            assert not response.content and not content
        elif media == "application/json":
            schema = content["application/json"]["schema"]
            validator = Draft202012Validator({**closed(schema), "components": self.components})
            errors = sorted(validator.iter_errors(response.json()), key=str)
            assert not errors, f"{method} {template} {expected}: {errors[0].message}"
        else:
            assert media in content, f"{method} {template} answered {media}, not documented"
        return response

    def template(self, path: str) -> str:
        """The documented path template the path is an instance of (a literal one first)."""
        if path in self.openapi["paths"]:
            return path
        for template in self.openapi["paths"]:
            pattern = re.sub(r"\\{[^/]+\\}", "[^/]+", re.escape(template))
            if re.fullmatch(pattern, path):
                return template
        raise AssertionError(f"{path} is not documented")


def npz() -> bytes:
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    np.savez(buffer, X=rng.normal(size=(30, 4)), y=np.arange(30) % 3)
    return buffer.getvalue()


def test_every_route_answers_as_documented(client):
    check = Documented(client)
    search = check("POST", f"{API}/searches", 201, json=make_spec(
        budget={"max_trials": 3, "max_parallel": 3, "max_attempts": 2},
        early_stopping={"kind": "median", "min_trials": 1, "min_epochs": 1})).json()
    sid = search["id"]
    check("GET", f"{API}/searches", 200)
    check("GET", f"{API}/searches/{sid}", 200)
    first = check("POST", f"{API}/trials/claim", 200, json={"worker_id": "w/1"}).json()
    second = claim(client, sid)
    third = claim(client, sid)
    check("POST", f"{API}/trials/claim", 204, json={"worker_id": "w/1", "search_id": sid})
    tid, token = first["trial_id"], first["lease_token"]
    check("POST", f"{API}/trials/{tid}/heartbeat", 200, json={"lease_token": token})
    check("POST", f"{API}/trials/{tid}/report", 200, json={
        "lease_token": token, "epoch": 0, "metrics": {"dev_accuracy": 0.5, "train_loss": None}})
    check("POST", f"{API}/trials/{tid}/report", 200, json={
        "lease_token": token, "reports": [{"epoch": 1, "metrics": {"dev_accuracy": 0.6}},
                                          {"epoch": 2, "metrics": {"dev_accuracy": 0.7}}]})
    done = {"lease_token": token, "metrics": {"dev_accuracy": 0.7, "dev_loss": 0.3}}
    check("POST", f"{API}/trials/{tid}/complete", 200, json=done)
    check("POST", f"{API}/trials/{tid}/complete", 200, json=done)  # a repeat
    check("POST", f"{API}/trials/{tid}/report", 409, json={
        "lease_token": token, "epoch": 3, "metrics": {"dev_accuracy": 0.8}})
    report(client, second, 0, 0.1)  # worse than the median: told to stop
    check("POST", f"{API}/trials/{second['trial_id']}/stop", 200)
    check("POST", f"{API}/trials/{second['trial_id']}/fail", 200,
          json={"lease_token": second["lease_token"], "error": "worker shutting down",
                "retry": True})
    check("GET", f"{API}/trials/{tid}", 200)
    check("GET", f"{API}/searches/{sid}/trials?order=value&status=completed", 200)
    check("GET", f"{API}/searches/{sid}/trials?since=0", 200)
    check("POST", f"{API}/searches/{sid}/cancel", 200)
    check("POST", f"{API}/trials/{third['trial_id']}/heartbeat", 200,
          json={"lease_token": third["lease_token"]})  # told to stop: the search is cancelled
    assert call(client, third, "fail", error="boom").status_code == 200

    # A paused trial's checkpoint: uploaded when told to pause, downloaded once promoted.
    rungs = check("POST", f"{API}/searches", 201, json=make_spec(
        budget={"max_trials": 4, "max_parallel": 4},
        early_stopping={"kind": "asha", "eta": 2, "resume": True})).json()["id"]
    leader, paused, *worse = (claim(client, rungs) for _ in range(4))
    report(client, leader, 0, 0.5)
    assert report(client, paused, 0, 0.4)["action"] == "pause"
    state = b"training state"
    check("PUT", f"{API}/trials/{paused['trial_id']}/checkpoint", 200, content=state,
          params={"lease_token": paused["lease_token"], "epoch": 1,
                  "sha256": hashlib.sha256(state).hexdigest()},
          headers={"content-type": "application/octet-stream"})
    for assignment in worse:
        report(client, assignment, 0, 0.1)
    promoted = claim(client, rungs)
    check("GET", f"{API}/trials/{paused['trial_id']}/checkpoint", 200,
          params={"lease_token": promoted["lease_token"]})
    check("GET", f"{API}/trials/{paused['trial_id']}/checkpoint", 409,
          params={"lease_token": paused["lease_token"]})
    assert check("GET", f"{API}/searches/{rungs}/rungs", 200).json()["entries"]
    check("GET", f"{API}/searches/{sid}/rungs", 200)  # no rungs: a null kind

    # Parameter importance: why there is none yet, then the parameters' shares.
    known = check("POST", f"{API}/searches", 201, json=make_spec(
        budget={"max_trials": 10, "max_parallel": 1})).json()["id"]
    check("GET", f"{API}/searches/{known}/importance", 200)
    for n in range(10):
        complete(client, claim(client, known), 0.5 + 0.01 * n)
    assert check("GET", f"{API}/searches/{known}/importance", 200).json()["parameters"]

    # Re-tests of the best trial, and the leaderboard of means.
    retested = create_search(client, budget={"max_trials": 1, "max_parallel": 1})["id"]
    best = claim(client, retested)
    call(client, best, "complete", metrics={"dev_accuracy": 0.5})
    check("GET", f"{API}/searches/{retested}/leaderboard", 200)
    check("POST", f"{API}/searches/{retested}/retest", 201, json={"top": 1, "seeds": 2})
    check("POST", f"{API}/searches/{retested}/retest", 422, json={"top": 0, "seeds": 2})
    check("POST", f"{API}/searches/{sid}/retest", 409, json={"top": 1, "seeds": 2})
    check("POST", f"{API}/searches/999/retest", 404, json={"top": 1, "seeds": 2})
    check("GET", f"{API}/searches/999/leaderboard", 404)

    uploaded = check("POST", f"{API}/datasets", 201,
                     files={"file": ("blobs.npz", npz(), "application/octet-stream")}).json()
    check("GET", f"{API}/datasets", 200)
    check("GET", f"{API}/datasets/{uploaded['id']}/data", 200)
    check("GET", "/healthz", 200)
    check("GET", "/metrics", 200)
    check("GET", f"{API}/fleet", 200)

    # Tokens (the open server's caller is an admin) and the caller.
    made = check("POST", f"{API}/tokens", 201, json={"name": "rack-3", "role": "worker"}).json()
    check("GET", f"{API}/tokens", 200)
    check("POST", f"{API}/tokens/{made['id']}/revoke", 200)
    check("POST", f"{API}/tokens/{made['id']}/revoke", 409)
    check("POST", f"{API}/tokens/999/revoke", 404)
    check("POST", f"{API}/tokens", 422, json={"name": "rack 3", "role": "worker"})
    check("GET", f"{API}/whoami", 200)

    # Errors: each as documented, with its JSON body.
    check("GET", f"{API}/searches/999", 404)
    check("GET", f"{API}/trials/999", 404)
    check("GET", f"{API}/datasets/999/data", 404)
    check("POST", f"{API}/searches/999/cancel", 404)
    check("GET", f"{API}/searches/999/rungs", 404)
    check("GET", f"{API}/searches/999/importance", 404)
    check("POST", f"{API}/searches/{sid}/cancel", 200)  # cancelled already: unchanged
    check("POST", f"{API}/trials/claim", 404, json={"worker_id": "w", "search_id": 999})
    check("POST", f"{API}/trials/999/heartbeat", 404, json={"lease_token": "t"})
    check("POST", f"{API}/trials/{tid}/stop", 409)
    check("POST", f"{API}/trials/{tid}/fail", 409, json={"lease_token": "t", "error": "e"})
    check("POST", f"{API}/trials/{tid}/complete", 422, json={"lease_token": token})
    check("POST", f"{API}/trials/claim", 422, content=b'{"worker_id": ',
          headers={"content-type": "application/json"})
    check("POST", f"{API}/searches", 422, json=make_spec(budget={"max_trials": 0}))
    check("GET", f"{API}/searches?limit=0", 422)
    check("POST", f"{API}/datasets", 422, files={"file": ("x.npz", b"nope", "x/y")})

    missing = {(method.upper(), path) for path, operations in check.openapi["paths"].items()
               for method in operations} - check.seen
    assert not missing, f"not tried: {sorted(missing)}"


@pytest.mark.parametrize("path, allowed", [
    (f"{API}/searches", "GET, HEAD, POST"),
    (f"{API}/trials/claim", "POST"),
    (f"{API}/trials/7", "GET, HEAD"),
    (f"{API}/trials/7/report", "POST"),
])
def test_a_method_a_path_does_not_take_is_a_405_naming_those_it_does(client, path, allowed):
    for method in ("OPTIONS", "PUT", "DELETE"):
        response = client.request(method, path)
        assert response.status_code == 405, (method, response.text)
        assert response.headers["allow"] == allowed
        assert response.json() == {"detail": "Method Not Allowed"}


def test_get_on_the_claim_route_is_a_405_not_a_trial_id(client):
    response = client.get(f"{API}/trials/claim")
    assert response.status_code == 405 and response.headers["allow"] == "POST"


def test_the_search_spec_is_documented_as_the_body_of_a_new_search(client):
    openapi = client.get("/openapi.json").json()
    body = openapi["paths"][f"{API}/searches"]["post"]["requestBody"]["content"]
    assert body["application/json"]["schema"]["$ref"] == "#/components/schemas/SearchSpec"
    spec = openapi["components"]["schemas"]["SearchSpec"]
    assert {"name", "dataset", "parameters"} <= set(spec["required"])
    for field in ("sampler", "early_stopping"):
        union = openapi["components"]["schemas"]["SearchSpec"]["properties"][field]
        assert union["discriminator"]["propertyName"] == "kind", field
    created = create_search(client)
    assert created["spec"]["sampler"]["kind"] == "random"
