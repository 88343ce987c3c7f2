"""Datasets for training: built-in loaders, .npz/.csv files, and a stratified split.

The built-in names, their options and `DatasetError` are defined in `domain.datasets`.
"""

from domain.datasets import DatasetError
from worker.datasets.builtin import load_builtin
from worker.datasets.dataset import Dataset
from worker.datasets.files import FORMATS, load_bytes, load_file
from worker.datasets.split import Split, check_split, split_dataset

__all__ = [
    "FORMATS",
    "Dataset",
    "DatasetError",
    "Split",
    "check_split",
    "load_builtin",
    "load_bytes",
    "load_file",
    "split_dataset",
]
