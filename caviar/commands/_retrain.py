"""The best trial's test accuracy: train its parameters once more, here, and evaluate on test.

The test split is touched once, for the best trial only, after the search:
choosing among trials by test accuracy would make it a second dev set.
Training is deterministic for a seed, so the retrained model is the one the
worker trained (its dev accuracy matches the trial's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.protocol import BuiltinDatasetRef, DatasetRef, UploadedDatasetRef
from domain.training import TrainingConfig
from worker.cache import DataCache
from worker.client import CaviarClient
from worker.nn.train import train


@dataclass(frozen=True)
class Retrained:
    """Accuracy of the retrained best trial on dev (as the worker saw it) and on test."""

    dev_accuracy: float
    test_accuracy: float


def dataset_ref(client: CaviarClient, spec_dataset: Any) -> DatasetRef:
    """The worker's view of a spec's `dataset` (a name, {name, options} or {id})."""
    if isinstance(spec_dataset, str):
        return BuiltinDatasetRef(kind="builtin", name=spec_dataset)
    if "id" in spec_dataset:
        uploaded = next((d for d in client.list_datasets()["items"]
                         if d["id"] == spec_dataset["id"]), None)
        if uploaded is None:
            raise LookupError(f"dataset {spec_dataset['id']} is not on the server")
        return UploadedDatasetRef(kind="uploaded", name=uploaded["name"], id=uploaded["id"],
                                  format=uploaded["format"], label_column=uploaded["label_column"],
                                  sha256=uploaded["sha256"],
                                  url=f"/api/v1/datasets/{uploaded['id']}/data")
    return BuiltinDatasetRef(kind="builtin", name=spec_dataset["name"],
                             options=dict(spec_dataset.get("options") or {}))


def retrain_best(client: CaviarClient, search: dict[str, Any],
                 trial: dict[str, Any]) -> Retrained:
    """Train the trial's params (merged with the spec's fixed keys) and evaluate dev and test."""
    spec = search["spec"]
    split = spec.get("split") or {"dev": 0.15, "test": 0.15, "seed": 0}
    data = DataCache(client).split(dataset_ref(client, spec["dataset"]), split)
    if len(data.y_test) == 0:
        raise ValueError("split.test: the spec keeps no test split (test = 0)")
    config = TrainingConfig.from_dict({**(spec.get("fixed") or {}), **trial["params"]})
    result = train(config, data.X_train, data.y_train, data.X_dev, data.y_dev)
    _, test_accuracy = result.model.evaluate(data.X_test, data.y_test)
    return Retrained(dev_accuracy=result.dev_accuracy, test_accuracy=float(test_accuracy))
