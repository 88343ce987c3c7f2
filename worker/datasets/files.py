"""Datasets from files: `.npz` with arrays X and y, or `.csv` with a header and a label column.

`load_bytes` parses the bytes of either format (the server checks uploads
with it; workers load downloaded copies with it); `load_file` reads a path.
Every malformed input raises DatasetError saying what is wrong and where.
"""

from __future__ import annotations

import csv
import io
import zipfile
import zlib
from pathlib import Path

import numpy as np
import numpy.typing as npt

from domain.datasets import DatasetError
from worker.datasets.dataset import Dataset, first_non_finite, make_dataset

FORMATS = ("npz", "csv")

# What reading a damaged zip archive can raise, besides ValueError.
_CORRUPT = (OSError, EOFError, RuntimeError, NotImplementedError, zipfile.BadZipFile, zlib.error)


def load_file(path: str | Path, label_column: str = "label") -> Dataset:
    """Load a .npz or .csv file (format from its suffix); the dataset is named by the file stem."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise DatasetError(f"{path}: unsupported file type {path.suffix or '(no suffix)'!r}; "
                           "expected .npz or .csv")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except OSError as error:
        raise DatasetError(f"{path}: cannot read: {error.strerror or error}") from None
    return load_bytes(data, fmt, label_column=label_column, name=path.stem, where=str(path))


def load_bytes(
    data: bytes,
    format: str,
    label_column: str | None = "label",
    name: str = "uploaded",
    where: str | None = None,
) -> Dataset:
    """Parse a dataset from the bytes of a .npz or .csv file.

    `label_column` applies to CSV only (None means "label"). `where` names
    the source in error messages (default: the name).
    """
    where = where or name
    label_column = label_column or "label"
    if format not in FORMATS:
        raise DatasetError(f"{where}: unknown format {format!r}; expected npz or csv")
    if not data:
        raise DatasetError(f"{where}: the file is empty")
    if format == "npz":
        return _parse_npz(data, name, where)
    return _parse_csv(data, label_column, name, where)


def _parse_npz(data: bytes, name: str, where: str) -> Dataset:
    try:
        archive = np.load(io.BytesIO(data), allow_pickle=False)
    except _CORRUPT + (ValueError,) as error:
        raise DatasetError(f"{where}: not a readable .npz file ({error})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DatasetError(f"{where}: a single .npy array, not a .npz archive with X and y")
    with archive:
        missing = [key for key in ("X", "y") if key not in archive.files]
        if missing:
            found = ", ".join(archive.files) or "none"
            raise DatasetError(f"{where}: missing array {' and '.join(missing)}; a .npz dataset "
                               f"needs arrays X and y (found: {found})")
        try:
            X, y = archive["X"], archive["y"]
        except ValueError as error:
            if "pickle" not in str(error):
                raise DatasetError(f"{where}: corrupt .npz archive ({error})") from None
            # Object arrays need pickle, which stays off for untrusted uploads.
            raise DatasetError(f"{where}: arrays X and y must be numeric or fixed-width "
                               "strings, not Python objects (pickle is not allowed)") from None
        except _CORRUPT as error:
            raise DatasetError(f"{where}: corrupt .npz archive ({error})") from None
    return make_dataset(name, X, y, where=where)


def _parse_csv(data: bytes, label_column: str, name: str, where: str) -> Dataset:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DatasetError(f"{where}: not UTF-8 text (byte {error.start}); a .csv dataset "
                           "must be UTF-8") from None
    reader = csv.reader(io.StringIO(text))
    try:
        records = [(reader.line_num, row) for row in reader if row]
    except csv.Error as error:
        raise DatasetError(f"{where}: not valid CSV at line {reader.line_num} ({error})") from None
    if not records:
        raise DatasetError(f"{where}: the file is empty")
    header = [cell.strip() for cell in records[0][1]]
    lines = [line for line, _ in records[1:]]
    body = [row for _, row in records[1:]]
    if label_column not in header:
        raise DatasetError(f"{where}: no label column {label_column!r}; columns: "
                           + ", ".join(repr(c) for c in header))
    if not body:
        raise DatasetError(f"{where}: a header but no data rows")
    for line, row in zip(lines, body, strict=True):
        if len(row) != len(header):
            raise DatasetError(f"{where}: line {line} has {len(row)} fields, the header has "
                               f"{len(header)}")
    label_index = header.index(label_column)
    feature_names = [c for i, c in enumerate(header) if i != label_index]
    if not feature_names:
        raise DatasetError(f"{where}: no feature columns besides the label column "
                           f"{label_column!r}")
    columns = list(zip(*body, strict=True))
    X = np.column_stack([
        _numeric_column(columns[i], header[i], lines, where)
        for i in range(len(header)) if i != label_index
    ])
    bad = first_non_finite(X)
    if bad is not None:
        bad_row, bad_column = bad
        raise DatasetError(f"{where}: line {lines[bad_row]}, column "
                           f"{feature_names[bad_column]!r} is {X[bad_row, bad_column]}; "
                           "features must be finite numbers")
    labels = [cell.strip() for cell in columns[label_index]]
    if "" in labels:
        line = lines[labels.index("")]
        raise DatasetError(f"{where}: line {line} has an empty label in column "
                           f"{label_column!r}")
    return make_dataset(name, X, _label_array(labels), feature_names, where=where)


def _numeric_column(cells: tuple[str, ...], column: str, lines: list[int], where: str
                    ) -> npt.NDArray[np.float64]:
    """The column as float64, or DatasetError naming the column and the first bad cell."""
    values = np.empty(len(cells), dtype=np.float64)
    for index, cell in enumerate(cells):
        try:
            values[index] = float(cell)
        except ValueError:
            raise DatasetError(f"{where}: column {column!r} is not numeric: line {lines[index]} "
                               f"has {cell!r}") from None
    return values


def _label_array(cells: list[str]) -> np.ndarray:
    """Integer labels when every cell is an integer, else the strings themselves."""
    try:
        return np.array([int(cell) for cell in cells], dtype=np.int64)
    except ValueError:
        return np.array(cells, dtype=str)
