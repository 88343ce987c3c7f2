"""Datasets for training: built-ins by name, .npz/.csv files, and a stratified split."""

from worker.datasets.builtin import BUILTIN_NAMES, check_builtin, load_builtin
from worker.datasets.dataset import Dataset, DatasetError
from worker.datasets.files import FORMATS, load_bytes, load_file
from worker.datasets.split import Split, check_split, split_dataset

__all__ = [
    "BUILTIN_NAMES",
    "FORMATS",
    "Dataset",
    "DatasetError",
    "Split",
    "check_builtin",
    "check_split",
    "load_builtin",
    "load_bytes",
    "load_file",
    "split_dataset",
]
