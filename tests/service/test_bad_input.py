"""Bad input, table-driven: each a 422, 404 or 409 with a message, never a 500, nothing stored."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tests.service.helpers import (
    API,
    claim,
    complete,
    create_search,
    dump_tables,
    make_spec,
    report,
)
from tests.service.test_datasets import npz_bytes
from tests.support.worker_routes import BOTH_WORKER_ROUTES

pytestmark = BOTH_WORKER_ROUTES


def spec_with(**changes: Any) -> dict[str, Any]:
    """A valid spec with nested changes given as dotted paths ("budget.max_trials": 0)."""
    spec = make_spec()
    for path, value in changes.items():
        *parents, last = path.split(".")
        node = spec
        for key in parents:
            node = node[key]
        if value is DELETE:
            del node[last]
        else:
            node[last] = value
    return spec


DELETE = object()


@dataclass(frozen=True)
class Raw:
    """A body sent as is, with its content type."""

    data: bytes
    content_type: str

def _at_query(name: str, msg: str) -> str:
    """The fragment of a 422's detail naming a query parameter and the rule."""
    return json.dumps({"loc": ["query", name], "msg": msg})[1:-1]


def _at(*loc: str | int, msg: str) -> str:
    """The fragment of a 422's detail naming the field (in the body) and the rule."""
    return json.dumps({"loc": ["body", *loc], "msg": msg})[1:-1]


def spec_without_units(**changes: Any) -> dict[str, Any]:
    """spec_with, hidden_units not searched (for specs that give hidden_layers)."""
    spec = spec_with(**changes)
    del spec["parameters"]["hidden_units"]
    return spec


def on_upload(spec: dict[str, Any]) -> bytes:
    """The spec on the dataset uploaded before the cases run ({upload}), as JSON bytes."""
    return json.dumps({**spec, "dataset": {"id": "__UPLOAD__"}}).replace(
        '"__UPLOAD__"', "{upload}").encode()


LAYERS_RULE = "hidden_layers must be a list of integers, each 1 <= n <= 4096, at most 16 of them"
MEMORY = "more than the limit of 2 GiB per trial"
LR = "parameters.learning_rate"
MANY = {f"p{i}": {"type": "float", "low": 0, "high": 1} for i in range(65)}

# (name, method, path, json body or raw bytes, expected status, a fragment of the message)
# Paths may use {search} (running, one trial claimed), {done} (a completed search),
# {running} (the claimed trial), {finished} (a completed trial) and {token} (the claim's).
CASES: list[tuple[str, str, str, Any, int, str]] = [
    ("spec not JSON", "post", "/searches", b'{"name": ', 422, "JSON"),
    ("spec a list", "post", "/searches", [1, 2], 422, "dict"),
    ("spec nested too deep", "post", "/searches", b"[" * 5000 + b"]" * 5000, 422, "parsing"),
    ("dataset id beyond 32 bits", "post", "/searches", spec_with(dataset={"id": 10**20}), 422,
     "no uploaded dataset"),
    ("multipart garbage", "post", "/datasets",
     Raw(b"garbage", "multipart/form-data; boundary=xx"), 422, "multipart"),
    ("upload without a file", "post", "/datasets",
     Raw(b"--xx\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nd\r\n--xx--\r\n",
         "multipart/form-data; boundary=xx"), 422, "required"),
    ("spec without name", "post", "/searches", spec_with(name=DELETE), 422, "required"),
    ("unknown training key", "post", "/searches",
     spec_with(**{"parameters.learnin_rate": {"type": "float", "low": 0.1, "high": 1}}), 422,
     "unknown training key"),
    ("empty range", "post", "/searches", spec_with(**{f"{LR}.low": 0.5, f"{LR}.high": 0.5}),
     422, "low"),
    ("log over non-positive", "post", "/searches",
     spec_with(**{f"{LR}.low": 0.0}), 422, "log"),
    ("reverse_log reaching 1", "post", "/searches",
     spec_with(**{"parameters.beta1": {"type": "float", "low": 0.9, "high": 1.0,
                                       "scale": "reverse_log"}}), 422, "1"),
    ("key searched and fixed", "post", "/searches",
     spec_with(**{"fixed.learning_rate": 0.1}), 422, "both"),
    ("zero trials", "post", "/searches", spec_with(**{"budget.max_trials": 0}), 422, "1"),
    ("too many trials", "post", "/searches", spec_with(**{"budget.max_trials": 10_001}), 422,
     "at most 10000"),
    ("unknown sampler", "post", "/searches", spec_with(**{"sampler.kind": "bayes"}), 422,
     ""),
    ("bad fixed value", "post", "/searches", spec_with(**{"fixed.optimizer": "adamw"}), 422,
     "one of"),
    ("NaN bound", "post", "/searches",
     json.dumps(spec_with()).replace('"high": 1.0', '"high": NaN', 1).encode(), 422, ""),
    ("name too long", "post", "/searches", spec_with(name="x" * 300), 422, "200"),
    ("65 parameters", "post", "/searches", spec_with(parameters=MANY), 422, "64"),
    ("unknown built-in dataset", "post", "/searches", spec_with(dataset="mnist-huge"), 422,
     "mnist-huge"),
    ("a dataset given as a URL", "post", "/searches",
     spec_with(dataset="http://169.254.169.254/latest/meta-data"), 422,
     "unknown built-in dataset"),
    ("dev fraction above 1", "post", "/searches", spec_with(split={"dev": 1.5}), 422, "1"),
    ("empty choice", "post", "/searches",
     spec_with(**{"parameters.batch_size": {"type": "choice", "values": []}}), 422, ""),
    ("unknown metric", "post", "/searches",
     spec_with(**{"objective.metric": "f1"}), 422, ""),
    ("missing uploaded dataset", "post", "/searches", spec_with(dataset={"id": 99}), 422,
     "no uploaded dataset"),
    ("parameters not an object", "post", "/searches", spec_with(parameters="lr"), 422, ""),
    ("hidden_layers 64 layers of 65536", "post", "/searches",
     spec_without_units(**{"fixed.hidden_layers": [65536] * 64}), 422,
     _at("fixed", "hidden_layers", msg=f"{LAYERS_RULE}, got a list of 64")),
    ("hidden_layers of 200,000 entries", "post", "/searches",
     spec_without_units(**{"fixed.hidden_layers": [1] * 200_000}), 422,
     _at("fixed", "hidden_layers", msg=f"{LAYERS_RULE}, got a list of 200000")),
    ("a hidden layer too wide", "post", "/searches",
     spec_without_units(**{"fixed.hidden_layers": [64, 5000]}), 422,
     _at("fixed", "hidden_layers", msg=f"{LAYERS_RULE}, got 5000")),
    ("hidden_units too wide", "post", "/searches",
     spec_with(**{"parameters.hidden_units.high": 5000}), 422,
     "hidden_units must be an integer with 1 <= value <= 4096"),
    ("num_layers too many", "post", "/searches", spec_with(**{"fixed.num_layers": 17}), 422,
     _at("fixed", "num_layers", msg="num_layers must be an integer with 1 <= value <= 16, "
         "got 17")),
    ("a searched choice of too many layers", "post", "/searches",
     spec_without_units(**{"parameters.hidden_layers": {"type": "choice",
                                                        "values": [[64], [8] * 17]}}), 422,
     "a list among a choice's values has at most 16 entries, got 17"),
    ("a searched choice of a layer too wide", "post", "/searches",
     spec_without_units(**{"parameters.hidden_layers": {"type": "choice",
                                                        "values": [[64], [4097]]}}), 422,
     _at("parameters", "hidden_layers", "values", 1, msg=f"{LAYERS_RULE}, got 4097")),
    ("1001 choices", "post", "/searches", spec_with(**{"parameters.batch_size": {
        "type": "choice", "values": list(range(1, 1002))}}), 422, "at most 1000 items"),
    ("a fixed network over the memory limit", "post", "/searches",
     spec_without_units(**{"fixed.hidden_layers": [4096] * 16}), 422,
     '"loc": ["body", "fixed", "hidden_layers"], "msg": "a trial of this search could need '
     'about 5.67 GiB of memory, ' + MEMORY),
    ("a searched network over the memory limit", "post", "/searches",
     spec_without_units(**{"parameters.hidden_layers": {"type": "choice",
                                                        "values": [[64], [4096] * 8]}}), 422,
     '"loc": ["body", "parameters", "hidden_layers"], "msg": "a trial of this search could '
     'need about 2.68 GiB of memory, ' + MEMORY),
    ("a batch over the memory limit", "post", "/searches",
     spec_with(dataset={"name": "moons", "options": {"n_samples": 1_000_000}},
               **{"fixed.batch_size": 1_000_000, "parameters.hidden_units.high": 1000}), 422,
     '"loc": ["body", "fixed", "batch_size"], "msg": "a trial of this search could need '),
    ("a search over the compute limit", "post", "/searches",
     spec_with(dataset={"name": "moons", "options": {"n_samples": 1_000_000}},
               **{"fixed.epochs": 100_000, "parameters.hidden_units.high": 1000}), 422,
     '"loc": ["body", "fixed", "epochs"], "msg": "a trial of this search could need about '
     '6e+17 floating-point operations, more than the limit of 1e+16 per trial'),
    ("an uploaded dataset's network over the memory limit", "post", "/searches",
     on_upload(spec_without_units(**{"fixed.hidden_layers": [4096] * 16})), 422,
     '"loc": ["body", "fixed", "hidden_layers"], "msg": "a trial of this search could need '
     'about 4.75 GiB of memory, ' + MEMORY),
    ("null epochs under the default early stopping (was a 500)", "post", "/searches",
     spec_with(early_stopping=DELETE, **{"fixed.epochs": None}), 422,
     _at("fixed", "epochs", msg="epochs must be an integer with 1 <= value <= 100000, got "
         "null")),
    ("claim without worker_id", "post", "/trials/claim", {}, 422, "required"),
    ("claim with empty worker_id", "post", "/trials/claim", {"worker_id": ""}, 422,
     "at least 1"),
    ("claim with NUL in worker_id", "post", "/trials/claim", {"worker_id": "a\x00b"}, 422,
     "NUL"),
    ("claim with text search_id", "post", "/trials/claim",
     {"worker_id": "w", "search_id": "abc"}, 422, "integer"),
    ("claim with unknown field", "post", "/trials/claim",
     {"worker_id": "w", "serch_id": 1}, 422, "Extra inputs"),
    ("claim on unknown search", "post", "/trials/claim",
     {"worker_id": "w", "search_id": 12345}, 404, "search 12345 not found"),
    ("heartbeat with a wrong token", "post", "/trials/{running}/heartbeat",
     {"lease_token": "0" * 32}, 409, "lease token"),
    ("heartbeat without token", "post", "/trials/{running}/heartbeat", {}, 422, "required"),
    ("report a negative epoch", "post", "/trials/{running}/report",
     {"lease_token": "{token}", "epoch": -1, "metrics": {}}, 422, "greater than or equal"),
    ("report text metrics", "post", "/trials/{running}/report",
     {"lease_token": "{token}", "epoch": 0, "metrics": {"dev_accuracy": "high"}}, 422,
     "number"),
    ("report a boolean metric", "post", "/trials/{running}/report",
     {"lease_token": "{token}", "epoch": 0, "metrics": {"dev_accuracy": True}}, 422,
     _at("metrics", "dev_accuracy", msg="a metric value must be a JSON number or null, not "
         "a boolean")),
    ("report a number as a string", "post", "/trials/{running}/report",
     {"lease_token": "{token}", "epoch": 0, "metrics": {"dev_accuracy": "0.25"}}, 422,
     _at("metrics", "dev_accuracy", msg="a metric value must be a JSON number or null, not "
         "a string")),
    ("report an accuracy above 1", "post", "/trials/{running}/report",
     {"lease_token": "{token}", "epoch": 0, "metrics": {"dev_accuracy": 7.5}}, 422,
     _at("metrics", "dev_accuracy", msg="an accuracy must be between 0 and 1, got 7.5")),
    ("report a negative loss in a batch", "post", "/trials/{running}/report",
     {"lease_token": "{token}", "reports": [{"epoch": 0, "metrics": {"train_loss": -1}}]}, 422,
     _at("reports", 0, "metrics", "train_loss", msg="a loss must be >= 0, got -1.0")),
    ("complete with a negative accuracy", "post", "/trials/{running}/complete",
     {"lease_token": "{token}", "metrics": {"dev_accuracy": -3}}, 422,
     _at("metrics", "dev_accuracy", msg="an accuracy must be between 0 and 1, got -3.0")),
    ("complete with a boolean metric", "post", "/trials/{running}/complete",
     {"lease_token": "{token}", "metrics": {"dev_accuracy": 0.5, "seconds": False}}, 422,
     _at("metrics", "seconds", msg="a metric value must be a JSON number or null, not a "
         "boolean")),
    ("report a stored epoch with other metrics", "post", "/trials/{running}/report",
     {"lease_token": "{token}", "epoch": 0, "metrics": {"dev_accuracy": 0.9}}, 409,
     "epoch 0 was already reported with different metrics"),
    ("report a batch repeating a stored epoch with other metrics", "post",
     "/trials/{running}/report", {"lease_token": "{token}", "reports": [
         {"epoch": 0, "metrics": {"dev_accuracy": 0.5}},
         {"epoch": 1, "metrics": {"dev_accuracy": 0.6}}]}, 409,
     "epoch 0 was already reported with different metrics"),
    ("report to a finished trial", "post", "/trials/{finished}/report",
     {"lease_token": "{token}", "epoch": 0, "metrics": {}}, 409, ""),
    ("complete without the objective", "post", "/trials/{running}/complete",
     {"lease_token": "{token}", "metrics": {"dev_loss": 0.2}}, 422, "dev_accuracy"),
    ("complete with Infinity", "post", "/trials/{running}/complete",
     b'{"lease_token": "{token}", "metrics": {"dev_accuracy": Infinity}}', 422, "finite"),
    ("complete with no metrics", "post", "/trials/{running}/complete",
     {"lease_token": "{token}", "metrics": {}}, 422, "at least 1"),
    ("fail without error", "post", "/trials/{running}/fail", {"lease_token": "{token}"}, 422,
     "required"),
    ("fail an unknown trial", "post", "/trials/99999/fail",
     {"lease_token": "x", "error": "e"}, 404, "trial 99999 not found"),
    ("claim not JSON", "post", "/trials/claim", b'{"worker_id": ', 422, "JSON"),
    ("claim with an empty body", "post", "/trials/claim", b"", 422, "required"),
    ("claim sent as text", "post", "/trials/claim", Raw(b'{"worker_id": "w"}', "text/plain"),
     422, "Content-Type"),
    ("report to a trial id not a number", "post", "/trials/abc/report",
     {"lease_token": "t", "epoch": 0, "metrics": {}}, 422, "integer"),
    ("heartbeat to trial id zero", "post", "/trials/0/heartbeat", {"lease_token": "t"}, 422,
     "greater than or equal"),
    ("complete a trial id too large", "post", f"/trials/{10**20}/complete",
     {"lease_token": "t", "metrics": {"dev_accuracy": 1}}, 422, "less than or equal"),
    ("trial id not a number", "get", "/trials/abc", None, 422, "integer"),
    ("trial id zero", "get", "/trials/0", None, 422, "greater than or equal"),
    ("trial id too large", "get", f"/trials/{10**20}", None, 422, "less than or equal"),
    ("negative cursor", "get", "/searches/{search}/trials?since=-1", None, 422, ""),
    ("limit too large", "get", "/searches/{search}/trials?limit=20000", None, 422, "10000"),
    ("unknown status filter", "get", "/searches/{search}/trials?status=lost", None, 422,
     "pending"),
    ("unknown order", "get", "/searches/{search}/trials?order=name", None, 422, "number"),
    ("list limit zero", "get", "/searches?limit=0", None, 422, ""),
    ("search page too large", "get", "/searches?limit=1001", None, 422,
     _at_query("limit", "Input should be less than or equal to 1000")),
    ("dataset page too large", "get", "/datasets?limit=1001", None, 422,
     _at_query("limit", "Input should be less than or equal to 1000")),
    ("leaderboard page too large", "get", "/searches/{search}/leaderboard?limit=1001", None,
     422, _at_query("limit", "Input should be less than or equal to 1000")),
    ("trial page too large", "get", "/searches/{search}/trials?limit=10001", None, 422,
     _at_query("limit", "Input should be less than or equal to 10000")),
    ("trial changes page too large", "get", "/searches/{search}/trials?since=0&limit=10001",
     None, 422, _at_query("limit", "Input should be less than or equal to 10000")),
    ("stop a finished trial", "post", "/trials/{finished}/stop", None, 409, "not running"),
    ("cancel a completed search", "post", "/searches/{done}/cancel", None, 409,
     "already completed"),
    ("cancel an unknown search", "post", "/searches/777/cancel", None, 404, "not found"),
]


def _fill(template: str, names: dict[str, Any]) -> str:
    for key, value in names.items():
        template = template.replace("{" + key + "}", str(value))
    return template


def test_bad_input_is_refused_with_a_message_and_stores_nothing(client, database_url):
    assert len(CASES) >= 25
    search = create_search(client, budget={"max_trials": 5, "max_parallel": 5})
    finished = claim(client, search["id"])
    complete(client, finished, 0.5)
    running = claim(client, search["id"])
    report(client, running, 0, 0.5)
    done = create_search(client, name="done", budget={"max_trials": 1, "max_parallel": 1})
    complete(client, claim(client, done["id"]), 0.5)
    uploaded = client.post(f"{API}/datasets", files={"file": ("tiny.npz", npz_bytes())})
    assert uploaded.status_code == 201, uploaded.text
    names = {"search": search["id"], "done": done["id"], "running": running["trial_id"],
             "finished": finished["trial_id"], "token": running["lease_token"],
             "upload": uploaded.json()["id"]}
    before = dump_tables(database_url)
    failures = []
    for name, method, path, body, status, fragment in CASES:
        kwargs: dict[str, Any] = {}
        if isinstance(body, Raw):
            kwargs = {"content": body.data, "headers": {"content-type": body.content_type}}
        elif isinstance(body, bytes):
            kwargs = {"content": _fill(body.decode(), names).encode(),
                      "headers": {"content-type": "application/json"}}
        elif body is not None:
            kwargs = {"json": json.loads(_fill(json.dumps(body), names))}
        response = client.request(method, API + _fill(path, names), **kwargs)
        detail = response.json().get("detail") if response.headers.get(
            "content-type", "").startswith("application/json") else None
        text = json.dumps(detail)
        ok = response.status_code == status and detail and fragment in text
        if status == 422:
            ok = ok and all(item["loc"] and item["msg"] for item in detail)
        if not ok:
            failures.append(f"{name}: {response.status_code} {response.text[:300]}")
    assert not failures, "\n".join(failures)
    assert dump_tables(database_url) == before
