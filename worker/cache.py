"""A trial's data: built-in datasets load locally; uploaded ones are downloaded once.

Uploaded files are cached on disk by sha256 in the cache folder (setting
`CAVIAR_CACHE_DIR`, default `~/.cache/caviar`) and verified against the hash the
server gave, after download and again when read back. Splits are memoized in
the process, so the trials of one search reuse the same arrays.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

from domain.protocol import BuiltinDatasetRef, DatasetRef
from worker.client import CaviarClient
from worker.datasets import Dataset, DatasetError, Split, load_builtin, load_bytes, split_dataset


def default_cache_dir() -> Path:
    """`CAVIAR_CACHE_DIR`, else `~/.cache/caviar`."""
    configured = os.environ.get("CAVIAR_CACHE_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "caviar"


class DataCache:
    """Loads and splits the data of assignments; keeps the last few splits in memory."""

    def __init__(self, client: CaviarClient, folder: Path | None = None,
                 keep: int = 4) -> None:
        self.client = client
        self.folder = folder or default_cache_dir()
        self.keep = keep
        self._splits: OrderedDict[str, Split] = OrderedDict()

    def split(self, dataset: DatasetRef, split: dict[str, Any]) -> Split:
        """The train/dev/test split of a dataset, as the assignment describes it."""
        key = json.dumps([dataset.model_dump(), split], sort_keys=True, default=str)
        if key in self._splits:
            self._splits.move_to_end(key)
            return self._splits[key]
        data = self.load(dataset)
        result = split_dataset(data, dev=float(split["dev"]), test=float(split["test"]),
                               seed=int(split["seed"]))
        self._splits[key] = result
        while len(self._splits) > self.keep:
            self._splits.popitem(last=False)
        return result

    def load(self, dataset: DatasetRef) -> Dataset:
        """The whole dataset: built-in, or uploaded (from the disk cache or the server)."""
        if isinstance(dataset, BuiltinDatasetRef):
            return load_builtin(dataset.name, dataset.options)
        content = self.fetch(dataset.sha256, dataset.format, dataset.url)
        return load_bytes(content, dataset.format, label_column=dataset.label_column,
                          name=dataset.name)

    def path_for(self, sha256: str, fmt: str) -> Path:
        """Where the file with this hash is cached."""
        return self.folder / "datasets" / f"{sha256}.{fmt}"

    def fetch(self, sha256: str, fmt: str, url: str) -> bytes:
        """The file's bytes: from the cache if its hash still matches, else downloaded."""
        path = self.path_for(sha256, fmt)
        if path.exists():
            content = path.read_bytes()
            if hashlib.sha256(content).hexdigest() == sha256:
                return content
            path.unlink()
        content, _ = self.client.download(url)
        actual = hashlib.sha256(content).hexdigest()
        if actual != sha256:
            raise DatasetError(
                f"dataset download from {url}: sha256 is {actual}, the server announced {sha256}"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as handle:
            handle.write(content)
        os.replace(handle.name, path)
        return content
