"""Dataset upload, listing and download through the HTTP API."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest

from tests.service.helpers import API, claim, create_search


def npz_bytes(n: int = 30, features: int = 4, classes: int = 3) -> bytes:
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    np.savez(buffer, X=rng.normal(size=(n, features)), y=np.arange(n) % classes)
    return buffer.getvalue()


CSV = b"a,b,label\n" + b"".join(f"{i},{i * 2},{i % 2}\n".encode() for i in range(20))


def upload(client, filename: str, data: bytes, **form: str):
    return client.post(f"{API}/datasets", files={"file": (filename, data)}, data=form)


def test_an_npz_upload_is_described_and_downloadable(client):
    data = npz_bytes()
    response = upload(client, "blobs.npz", data)
    assert response.status_code == 201, response.text
    dataset = response.json()
    assert dataset["name"] == "blobs.npz" and dataset["format"] == "npz"
    assert (dataset["n_samples"], dataset["n_features"], dataset["n_classes"]) == (30, 4, 3)
    assert dataset["sha256"] == hashlib.sha256(data).hexdigest()
    assert dataset["bytes"] == len(data) and dataset["label_column"] is None
    download = client.get(f"{API}/datasets/{dataset['id']}/data")
    assert download.status_code == 200 and download.content == data
    assert download.headers["X-Caviar-SHA256"] == dataset["sha256"]
    listing = client.get(f"{API}/datasets").json()
    assert listing == {"items": [dataset], "total": 1}


def test_a_csv_upload_with_a_named_label_column(client):
    data = CSV.replace(b"label", b"target")
    response = upload(client, "pairs.csv", data, name="pairs", label_column="target")
    assert response.status_code == 201, response.text
    dataset = response.json()
    assert dataset["name"] == "pairs" and dataset["label_column"] == "target"
    assert (dataset["n_samples"], dataset["n_features"], dataset["n_classes"]) == (20, 2, 2)


def test_a_search_on_an_upload_tells_workers_where_to_get_it(client):
    dataset = upload(client, "pairs.csv", CSV).json()
    search = create_search(client, dataset={"id": dataset["id"]})
    assignment = claim(client, search["id"])
    assert assignment["dataset"] == {
        "kind": "uploaded", "id": dataset["id"], "name": "pairs.csv", "format": "csv",
        "label_column": "label", "sha256": dataset["sha256"],
        "url": f"/api/v1/datasets/{dataset['id']}/data",
    }


@pytest.mark.parametrize(
    ("filename", "data", "form", "fragment"),
    [
        ("empty.csv", b"", {}, "empty"),
        ("data.txt", CSV, {}, "unsupported type 'txt'"),
        ("noext", CSV, {}, "unsupported type '(no suffix)'"),
        ("data.csv", CSV, {"label_column": "class"}, "class"),
        ("data.npz", b"PK\x03\x04 not really a zip", {}, ""),
        ("data.csv", b"a,b,label\n1,x,0\n2,3,1\n", {}, ""),
    ],
)
def test_a_bad_file_is_a_422_saying_what_is_wrong(client, filename, data, form, fragment):
    response = upload(client, filename, data, **form)
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "file"] and fragment in error["msg"] and error["msg"]
    assert client.get(f"{API}/datasets").json()["total"] == 0


def test_an_upload_over_the_size_limit_is_refused(make_client):
    client = make_client(max_upload_bytes=100)
    response = upload(client, "big.csv", CSV)
    assert response.status_code == 422
    assert "larger than the limit of 100 bytes" in response.json()["detail"][0]["msg"]


def test_an_unknown_dataset_is_404(client):
    response = client.get(f"{API}/datasets/5/data")
    assert response.status_code == 404 and response.json() == {"detail": "dataset 5 not found"}
