"""`caviar train`, run as the real console script in a subprocess."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from domain.training import KEYS
from worker.datasets import load_builtin

CAVIAR = str(Path(sys.executable).parent / "caviar")
EPOCH_FIELDS = ["epoch", "train_loss", "dev_loss", "dev_accuracy", "learning_rate", "seconds"]


def caviar_train(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([CAVIAR, "train", *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd)


def epoch_rows(stdout: str) -> list[list[str]]:
    """The table rows between the header line and the blank line before the metrics."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == ["epoch"]) + 1
    rows = []
    for line in lines[start:]:
        if not line.strip():
            break
        rows.append(line.split())
    return rows


def final_metrics(stdout: str) -> dict[str, str]:
    tail = stdout.split("\n\n")[-1]
    return dict(line.split(None, 1) for line in tail.strip().splitlines())


def assert_usage_error(result: subprocess.CompletedProcess, message: str) -> None:
    """Exit code 2, nothing on stdout, and exactly one line on stderr: the message."""
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("caviar train: error: "), result.stderr
    assert message in result.stderr, result.stderr


def test_prints_a_row_per_epoch_and_the_final_metrics():
    result = caviar_train("--dataset", "moons", "--set", "epochs=3", "--set", "hidden_units=8")
    assert result.returncode == 0, result.stderr
    assert "dataset  moons: 1000 samples, 2 features, 2 classes" in result.stdout
    assert "split    700 train / 150 dev / 150 test (seed 0)" in result.stdout
    assert "network  2-8-8-2, relu; adam" in result.stdout
    assert result.stdout.count("epoch  train_loss    dev_loss   dev_acc  learning_rate") == 1
    rows = epoch_rows(result.stdout)
    assert [row[0] for row in rows] == ["0", "1", "2"]
    for row in rows:
        values = [float(cell) for cell in row]
        assert len(values) == 6 and 0 <= values[3] <= 1 and values[4] == 0.001
    metrics = final_metrics(result.stdout)
    assert metrics["status"] == "finished" and metrics["epochs"] == "3"
    assert float(metrics["dev_accuracy"]) == float(rows[-1][3])
    assert 0.5 < float(metrics["test_accuracy"]) <= 1


def test_json_lines_are_parseable_and_reproducible():
    args = ("--dataset", "digits", "--set", "epochs=2", "--set", "hidden_units=16", "--json")
    first = caviar_train(*args)
    assert first.returncode == 0, first.stderr
    lines = [json.loads(line) for line in first.stdout.splitlines()]
    assert len(lines) == 3
    assert [list(line) for line in lines[:2]] == [EPOCH_FIELDS, EPOCH_FIELDS]
    assert [line["epoch"] for line in lines[:2]] == [0, 1]
    final = lines[-1]
    assert final["status"] == "finished" and final["epochs"] == 2
    assert {"dev_accuracy", "dev_loss", "train_accuracy", "seconds", "samples_per_second",
            "test_accuracy", "test_loss"} <= set(final)
    assert final["dev_accuracy"] == lines[1]["dev_accuracy"]
    again = [json.loads(line) for line in caviar_train(*args).stdout.splitlines()]
    for before, after in zip(lines, again, strict=True):
        assert before["dev_loss"] == after["dev_loss"]


def test_a_yaml_config_sets_keys_and_set_overrides_it(tmp_path):
    config = tmp_path / "cfg.yaml"
    config.write_text("epochs: 5\nhidden_layers: [12, 6]\nbatch_norm: true\n"
                      "optimizer: momentum\nlearning_rate: 5e-2\n")
    result = caviar_train("--dataset", "circles", "--config", str(config),
                          "--set", "epochs=2")
    assert result.returncode == 0, result.stderr
    assert "network  2-12-6-2, relu, batch norm; momentum, learning rate 0.05" in result.stdout
    assert len(epoch_rows(result.stdout)) == 2
    assert [float(row[4]) for row in epoch_rows(result.stdout)] == [0.05, 0.05]


def test_trains_on_a_csv_file_with_string_labels(tmp_path):
    data = load_builtin("spirals", {"n_samples": 300, "n_classes": 3})
    names = np.array(["red", "green", "blue"])[data.y]
    lines = ["x,y,arm"] + [f"{a},{b},{arm}" for (a, b), arm in zip(data.X, names, strict=True)]
    (tmp_path / "arms.csv").write_text("\n".join(lines) + "\n")
    result = caviar_train("--dataset", "arms.csv", "--label-column", "arm",
                          "--set", "epochs=2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "dataset  arms: 300 samples, 2 features, 3 classes" in result.stdout


def test_dataset_options_reach_the_builtin():
    result = caviar_train("--dataset", "spirals", "--dataset-option", "n_classes=4",
                          "--dataset-option", "n_samples=400", "--set", "epochs=1", "--test", "0")
    assert result.returncode == 0, result.stderr
    assert "spirals: 400 samples, 2 features, 4 classes" in result.stdout
    assert "split    340 train / 60 dev / 0 test" in result.stdout
    assert "test_accuracy" not in result.stdout


def test_help_shows_every_key_with_what_it_does_its_default_and_rule():
    result = subprocess.run([CAVIAR, "train", "--help"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split("training keys (--set KEY=VALUE or --config):\n")[1].splitlines()
    assert lines[:2] == ["  num_layers     number of hidden layers",
                         "                 default 2; an integer with 1 <= value <= 16"]
    flat = " ".join(result.stdout.split())
    for key, spec in KEYS.items():
        assert f"{key} {spec.doc}" in flat and spec.rule() in flat


def test_unknown_key_is_one_line_listing_the_known_keys():
    result = caviar_train("--dataset", "moons", "--set", "colour=red")
    assert_usage_error(result, "colour: unknown training key; known keys: " + ", ".join(KEYS))


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("optimizer=adamw", "optimizer: must be one of sgd, momentum, rmsprop, adam, got 'adamw'"),
        ("epochs=many", "epochs: must be an integer with 1 <= value <= 100000, got 'many'"),
        ("learning_rate=0", "learning_rate: must be a finite number with 0 < value"),
        ("batch_norm=maybe", "batch_norm: must be true or false"),
        ("epochs", "--set: expected KEY=VALUE, got 'epochs'"),
    ],
)
def test_bad_value_is_one_line_naming_the_key_and_the_rule(setting, message):
    assert_usage_error(caviar_train("--dataset", "moons", "--set", setting), message)


def test_a_rule_across_keys_is_checked():
    result = caviar_train("--dataset", "moons", "--set", "lr_decay=exponential",
                          "--set", "decay_rate=2")
    assert_usage_error(result, "decay_rate: must satisfy 0 < value <= 1 for lr_decay=exponential")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("learning_rate: -1\n", ": learning_rate: must be a finite number with 0 < value"),
        ("hidden: 5\n", ": hidden: unknown training key; known keys: num_layers"),
        ("- epochs\n- 3\n", ": must be a mapping of training keys to values, got list"),
        ("epochs: [3\n", ": not valid YAML ("),
    ],
)
def test_bad_config_file_is_one_line(tmp_path, content, message):
    config = tmp_path / "cfg.yaml"
    config.write_text(content)
    result = caviar_train("--dataset", "moons", "--config", str(config))
    assert_usage_error(result, f"--config {config}{message}")


def test_missing_config_file(tmp_path):
    result = caviar_train("--dataset", "moons", "--config", str(tmp_path / "absent.yaml"))
    assert_usage_error(result, "absent.yaml: no such file")


def test_bad_dataset_file_is_one_line(tmp_path):
    (tmp_path / "bad.csv").write_text("a,b,label\n1,2,0\n3,oops,1\n")
    result = caviar_train("--dataset", "bad.csv", cwd=tmp_path)
    assert_usage_error(result, "bad.csv: column 'b' is not numeric: line 3 has 'oops'")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "mnist"], "--dataset 'mnist': neither a built-in (digits, breast_cancer, "
                                 "moons, circles, spirals) nor a .npz or .csv file"),
        (["--dataset", "absent.npz"], "absent.npz: no such file"),
        (["--dataset", "moons", "--dataset-option", "noise=-1"],
         "moons: option noise must be a number with 0 <= value <= 10, got -1"),
        (["--dataset", "moons", "--dev", "0"], "split dev must be > 0"),
        (["--dataset", "moons", "--dev", "0.5", "--test", "0.5"], "split dev + test must be < 1"),
    ],
)
def test_bad_dataset_or_split_is_one_line(tmp_path, args, message):
    assert_usage_error(caviar_train(*args, cwd=tmp_path), message)


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_a_diverged_run_says_why_and_exits_1(json_flag):
    result = caviar_train("--dataset", "digits", "--set", "optimizer=sgd",
                          "--set", "learning_rate=1000", "--set", "epochs=3", *json_flag)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    reason = result.stderr.strip().splitlines()
    assert len(reason) == 1 and reason[0].startswith("caviar train: diverged at epoch ")
    if json_flag:
        final = json.loads(result.stdout.splitlines()[-1])
        assert final["status"] == "diverged" and final["error"].startswith("diverged at epoch")
    else:
        assert final_metrics(result.stdout)["status"] == "diverged"


def test_first_ctrl_c_stops_after_the_epoch_with_final_metrics():
    process = subprocess.Popen(
        [CAVIAR, "train", "--dataset", "moons", "--set", "epochs=100000", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        first = json.loads(process.stdout.readline())
        assert first["epoch"] == 0
        process.send_signal(signal.SIGINT)
        rest, errors = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, errors
    final = json.loads(rest.splitlines()[-1])
    assert final["status"] == "stopped" and 1 <= final["epochs"] < 100000
    assert "stopping after this epoch" in errors


def test_the_readme_command_reaches_97_percent_on_digits():
    result = caviar_train("--dataset", "digits", "--set", "optimizer=adam",
                          "--set", "batch_norm=true", "--json")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) - 1 <= 30
    assert max(line["dev_accuracy"] for line in lines[:-1]) >= 0.97
