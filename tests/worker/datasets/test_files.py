"""Datasets from .npz and .csv files, and the error each malformed file gets."""

import contextlib
import io

import numpy as np
import pytest

from worker.datasets import DatasetError, load_bytes, load_file


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def _error(path, **kwargs) -> str:
    with pytest.raises(DatasetError) as raised:
        load_file(path, **kwargs)
    return str(raised.value)


def test_npz_with_X_and_y(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = np.array([3, 7] * 20)
    data = load_file(_npz(tmp_path / "points.npz", X=X, y=y))
    assert data.name == "points" and data.X.dtype == np.float32 and data.X.shape == (40, 3)
    assert data.classes == (3, 7) and data.y.tolist() == [0, 1] * 20
    np.testing.assert_allclose(data.X, X, rtol=1e-6)


def test_npz_with_string_labels(tmp_path):
    y = np.array(["cat", "dog", "ant", "dog"])
    data = load_file(_npz(tmp_path / "pets.npz", X=np.eye(4), y=y))
    assert data.classes == ("ant", "cat", "dog") and data.y.tolist() == [1, 2, 0, 2]


def test_npz_with_byte_string_and_boolean_labels(tmp_path):
    encoded = load_file(_npz(tmp_path / "b.npz", X=np.eye(3), y=np.array([b"yes", b"no", b"no"])))
    assert encoded.classes == ("no", "yes") and encoded.y.tolist() == [1, 0, 0]
    flags = load_file(_npz(tmp_path / "f.npz", X=np.eye(3), y=np.array([True, False, True])))
    assert flags.classes == (0, 1) and flags.y.tolist() == [1, 0, 1]


def test_load_bytes_matches_load_file(tmp_path):
    path = _npz(tmp_path / "a.npz", X=np.eye(4), y=np.array([0, 1, 0, 1]))
    from_bytes = load_bytes(path.read_bytes(), "npz", name="upload")
    assert from_bytes.name == "upload"
    np.testing.assert_array_equal(from_bytes.X, load_file(path).X)


def test_csv_with_a_named_label_column_and_string_labels(tmp_path):
    path = tmp_path / "iris.csv"
    path.write_text("width,species,height\n1.5,versicolor,2\n0.5,setosa,1e1\n3,virginica,-4\n"
                    "2,setosa,0\n")
    data = load_file(path, label_column="species")
    assert data.feature_names == ("width", "height")
    assert data.classes == ("setosa", "versicolor", "virginica")
    assert data.y.tolist() == [1, 0, 2, 0]
    np.testing.assert_array_equal(data.X, np.array([[1.5, 2], [0.5, 10], [3, -4], [2, 0]],
                                                   dtype=np.float32))


def test_csv_integer_labels_sort_numerically(tmp_path):
    path = tmp_path / "numbers.csv"
    path.write_text("a,label\n1,10\n2,9\n3,10\n\n4,-1\n")
    data = load_file(path)
    assert data.classes == (-1, 9, 10) and data.y.tolist() == [2, 1, 2, 0]


def test_csv_bytes_with_a_byte_order_mark():
    data = load_bytes("\ufeffx,label\n1,a\n2,b\n".encode(), "csv")
    assert data.feature_names == ("x",) and data.n_classes == 2


@pytest.mark.parametrize(
    ("arrays", "fragment"),
    [
        ({"X": np.zeros(4), "y": np.array([0, 1, 0, 1])}, "X must be 2-D (samples × features), "
                                                          "got shape (4,)"),
        ({"X": np.zeros((4, 2)), "y": np.zeros((4, 1))}, "y must be 1-D (one label per sample), "
                                                          "got shape (4, 1)"),
        ({"X": np.zeros((4, 2)), "y": np.array([0, 1, 0])}, "X has 4 rows but y has 3 labels"),
        ({"X": np.zeros((4, 2)), "y": np.array([1, 1, 1, 1])}, "y has a single class (1)"),
        ({"X": np.array([[0.0, 1], [2, np.nan], [0, 0]]), "y": np.array([0, 1, 0])},
         "X has nan at row 1, column 1 ('x1')"),
        ({"X": np.array([[0.0, np.inf], [2, 1]]), "y": np.array([0, 1])},
         "X has inf at row 0, column 1"),
        ({"X": np.array([["a", "b"], ["c", "d"]]), "y": np.array([0, 1])},
         "X must be numeric, got dtype <U1"),
        ({"X": np.zeros((2, 2)), "y": np.array([0.0, 0.5])}, "label at row 1 is 0.5, not a whole"),
        ({"X": np.zeros((0, 2)), "y": np.zeros(0, dtype=int)}, "no samples"),
        ({"X": np.zeros((2, 0)), "y": np.array([0, 1])}, "X has no feature columns"),
        ({"X": np.zeros((2, 2))}, "missing array y; a .npz dataset needs arrays X and y "
                                  "(found: X)"),
        ({"features": np.zeros((2, 2))}, "missing array X and y"),
        ({"X": np.zeros((2, 2)), "y": np.array([0, None], dtype=object)},
         "must be numeric or fixed-width strings, not Python objects"),
    ],
)
def test_malformed_npz_says_what_is_wrong(tmp_path, arrays, fragment):
    path = _npz(tmp_path / "bad.npz", **arrays)
    message = _error(path)
    assert message.startswith(str(path) + ": ")
    assert fragment in message


def test_npz_float_labels_that_are_whole_numbers_are_fine(tmp_path):
    data = load_file(_npz(tmp_path / "f.npz", X=np.eye(3), y=np.array([1.0, 2.0, 1.0])))
    assert data.classes == (1, 2)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "the file is empty"),
        (b"this is not a zip archive", "not a readable .npz file"),
        (b"PK\x03\x04 truncated", "not a readable .npz file"),
    ],
)
def test_unreadable_npz(tmp_path, content, fragment):
    path = tmp_path / "broken.npz"
    path.write_bytes(content)
    assert fragment in _error(path)


def test_a_single_npy_array_is_not_a_dataset():
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(3))
    with pytest.raises(DatasetError, match="a single .npy array, not a .npz archive"):
        load_bytes(buffer.getvalue(), "npz")


def test_truncated_npz_archive(tmp_path):
    path = _npz(tmp_path / "whole.npz", X=np.zeros((50, 4)), y=np.arange(50) % 2)
    cut = tmp_path / "cut.npz"
    cut.write_bytes(path.read_bytes()[:200])
    assert "npz" in _error(cut)


@pytest.mark.parametrize(
    ("text", "kwargs", "fragment"),
    [
        ("", {}, "the file is empty"),
        ("\n\n", {}, "the file is empty"),
        ("a,b,label\n", {}, "a header but no data rows"),
        ("a,b,target\n1,2,0\n", {}, "no label column 'label'; columns: 'a', 'b', 'target'"),
        ("a,b,target\n1,2,0\n3,4,1\n", {"label_column": "y"}, "no label column 'y'"),
        ("a,colour,label\n1,2,0\n3,red,1\n", {}, "column 'colour' is not numeric: line 3 has "
                                                 "'red'"),
        ("a,b,label\n1,2,0\n3,,1\n", {}, "column 'b' is not numeric: line 3 has ''"),
        ("a,b,label\n1,2,0\n3,nan,1\n", {}, "line 3, column 'b' is nan; features must be finite"),
        ("a,b,label\n1,2,0\n3,4,1\n5,inf,0\n", {}, "line 4, column 'b' is inf"),
        ("a,b,label\n1,2,0\n3,4\n", {}, "line 3 has 2 fields, the header has 3"),
        ("a,b,label\n1,2,x\n3,4,x\n", {}, "y has a single class ('x')"),
        ("a,b,label\n1,2,x\n3,4,\n", {}, "line 3 has an empty label in column 'label'"),
        ("label\n1\n2\n", {}, "no feature columns besides the label column 'label'"),
    ],
)
def test_malformed_csv_says_what_is_wrong(tmp_path, text, kwargs, fragment):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    message = _error(path, **kwargs)
    assert message.startswith(str(path) + ": ")
    assert fragment in message


def test_csv_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("caf\xe9,label\n1,0\n2,1\n".encode("latin-1"))
    assert "not UTF-8 text (byte 3)" in _error(path)


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_any_damaged_byte_gives_a_dataset_error_or_a_dataset(save):
    buffer = io.BytesIO()
    save(buffer, X=np.random.default_rng(0).normal(size=(20, 3)), y=np.arange(20) % 2)
    original = buffer.getvalue()
    rng = np.random.default_rng(1)
    for position in range(len(original)):
        damaged = bytearray(original)
        damaged[position] ^= int(rng.integers(1, 256))
        with contextlib.suppress(DatasetError):
            load_bytes(bytes(damaged), "npz")


def test_missing_file_and_unsupported_suffix(tmp_path):
    assert "no such file" in _error(tmp_path / "absent.csv")
    assert "unsupported file type '.txt'; expected .npz or .csv" in _error(tmp_path / "a.txt")
    with pytest.raises(DatasetError, match="unknown format 'xlsx'; expected npz or csv"):
        load_bytes(b"x", "xlsx")
