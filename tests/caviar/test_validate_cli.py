"""`caviar validate` and `caviar submit`'s own check: the server's rules and words, offline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from domain.error_format import error_line
from tests.support.processes import free_port

CAVIAR = str(Path(sys.executable).parent / "caviar")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

VALID = """\
name: valid-here
dataset: digits
budget: {max_trials: 60}
parameters:
  learning_rate: {type: float, low: 1.0e-4, high: 1.0, scale: log}
  batch_size: {type: choice, values: [64, 128]}
fixed: {optimizer: adam}
"""

TWO_ERRORS = """\
name: two-errors
dataset: digits
budget: {max_trials: 0}
parameters:
  learning_rate: {type: float, low: 0.1, high: 0.01}
"""
TWO_ERROR_LINES = [
    "budget.max_trials: Input should be greater than or equal to 1",
    "parameters.learning_rate.high: high must be greater than low: the range [0.1, 0.01] is "
    "empty",
]


def caviar(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CAVIAR, *args], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_a_valid_spec_is_ok_with_what_it_searches(tmp_path):
    path = write(tmp_path, "valid.yaml", VALID)
    done = caviar("validate", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == (f"{path}: ok (2 parameters, sampler tpe, early stopping asha, "
                           "up to 60 trials, maximize dev_accuracy, dataset digits)\n")
    assert done.stderr == ""


def test_every_example_spec_is_valid():
    examples = sorted(EXAMPLES.glob("*.yaml"))
    done = caviar("validate", *map(str, examples))
    assert done.returncode == 0, done.stdout
    assert [line.split(": ok (")[0] for line in done.stdout.splitlines()] == list(
        map(str, examples))


def test_an_invalid_spec_gets_one_line_per_broken_rule_and_exit_1(tmp_path):
    path = write(tmp_path, "bad.yaml", TWO_ERRORS)
    done = caviar("validate", str(path))
    assert done.returncode == 1
    assert done.stdout.splitlines() == [f"{path}: {line}" for line in TWO_ERROR_LINES]
    assert "Traceback" not in done.stderr


def test_the_lines_are_the_servers_422_for_the_same_spec(client, tmp_path):
    import yaml

    answer = client.post("/api/v1/searches", json=yaml.safe_load(TWO_ERRORS))
    assert answer.status_code == 422
    assert [error_line(item) for item in answer.json()["detail"]] == TWO_ERROR_LINES


def test_a_yaml_error_is_one_line_naming_the_place(tmp_path):
    path = write(tmp_path, "broken.yaml", "name: [unclosed\ndataset: digits\n")
    done = caviar("validate", str(path))
    assert done.returncode == 1
    (line,) = done.stdout.splitlines()
    assert line.startswith(f"SPEC: {path} is not valid YAML at line 2, column 8: ")
    assert "Traceback" not in done.stderr


def test_a_missing_file_is_one_line_and_the_other_specs_are_still_checked(tmp_path):
    missing = tmp_path / "nope.yaml"
    valid = write(tmp_path, "valid.yaml", VALID)
    done = caviar("validate", str(missing), str(valid))
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0] == f"SPEC: cannot read {missing}: No such file or directory"
    assert lines[1].startswith(f"{valid}: ok (")


def test_validate_needs_a_spec():
    done = caviar("validate")
    assert done.returncode == 2 and "SPEC.yaml" in done.stderr


@pytest.mark.parametrize("text", [TWO_ERRORS, "name: x\n"])
def test_submit_refuses_an_invalid_spec_without_contacting_the_server(tmp_path, text):
    path = write(tmp_path, "bad.yaml", text)
    closed = f"http://127.0.0.1:{free_port()}"
    done = caviar("submit", str(path), "--server", closed)
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert lines and all(line.startswith("caviar submit: error: ") for line in lines)
    assert "unreachable" not in done.stderr and "Traceback" not in done.stderr
    if text == TWO_ERRORS:
        assert lines == [f"caviar submit: error: {line}" for line in TWO_ERROR_LINES]
    else:
        assert lines == ["caviar submit: error: dataset: Field required",
                         "caviar submit: error: parameters: Field required"]


def test_submit_sends_a_valid_spec(tmp_path):
    closed = f"http://127.0.0.1:{free_port()}"
    done = caviar("submit", str(write(tmp_path, "valid.yaml", VALID)), "--server", closed)
    assert done.returncode == 1
    assert f"server {closed} unreachable" in done.stderr


TOO_BIG = """\
name: too-big
dataset: digits
parameters:
  learning_rate: {type: float, low: 1.0e-4, high: 1.0, scale: log}
  hidden_layers: {type: choice, values: [[64], [4096, 4096, 4096, 4096, 4096, 4096, 4096, 4096]]}
fixed: {epochs: 5, num_layers: 17}
"""


def test_the_caps_on_layers_and_a_trials_memory_are_checked_offline(tmp_path):
    path = write(tmp_path, "too-big.yaml", TOO_BIG)
    done = caviar("validate", str(path))
    assert done.returncode == 1
    assert done.stdout == (f"{path}: fixed.num_layers: num_layers must be an integer with "
                           "1 <= value <= 16, got 17\n")
    fixed = write(tmp_path, "too-big.yaml", TOO_BIG.replace(", num_layers: 17", ""))
    done = caviar("validate", str(fixed))
    assert done.returncode == 1
    assert done.stdout.startswith(f"{path}: parameters.hidden_layers: a trial of this search "
                                  "could need about 2.68 GiB of memory, more than the limit "
                                  "of 2 GiB per trial: hidden layers of 8 x 4096 units")
