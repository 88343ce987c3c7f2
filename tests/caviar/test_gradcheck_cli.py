"""`caviar gradcheck` through the real console script."""

import subprocess
import sys
from pathlib import Path

import pytest

CAVIAR = str(Path(sys.executable).parent / "caviar")


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CAVIAR, "gradcheck", *args], capture_output=True, text=True,
                          timeout=120)


def test_batch_norm_tanh_network_with_l2_passes():
    result = _run("--layers", "5,4,3", "--batch-norm", "--activation", "tanh", "--l2", "0.1")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["parameter", "shape", "relative", "difference", "verdict"]
    names = [line.split()[0] for line in lines[1:-2]]
    assert names == ["W1", "gamma1", "beta1", "W2", "gamma2", "beta2", "W3", "gamma3", "beta3",
                     "W4", "b4"]
    assert lines[1].split()[1] == "4x5"
    overall = lines[-1].split()
    assert overall[0] == "overall" and float(overall[1]) < 1e-7 and overall[2] == "fine"
    assert all(line.endswith("fine") for line in lines[1:-2])


def test_two_classes_after_some_training_passes():
    result = _run("--classes", "2", "--activation", "sigmoid", "--samples", "12", "--steps", "5",
                  "--seed", "3")
    assert result.returncode == 0, result.stdout
    assert "W4         3x1" in result.stdout


def test_relu_kink_gives_exit_code_1_and_says_why():
    # With seed 1, zero biases and a dead relu row put units exactly on the kink at 0.
    result = _run("--activation", "relu", "--classes", "2", "--l2", "0.1", "--seed", "1")
    assert result.returncode == 1
    assert result.stdout.splitlines()[-2].split()[-1] == "bug"
    assert result.stdout.splitlines()[-1].startswith("note: 3 relu inputs lie within 1e-06")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--layers", "5,x"], "--layers: must be comma-separated integers >= 1, got '5,x'"),
        (["--layers", "5,0"], "--layers: must be comma-separated integers >= 1"),
        (["--classes", "1"], "--classes: must be an integer >= 2, got 1"),
        (["--samples", "many"], "--samples: must be an integer >= 2, got 'many'"),
        (["--activation", "swish"], "--activation: must be one of relu, leaky_relu, tanh, sigmoid"),
        (["--l2", "-1"], "--l2: must be a finite number >= 0, got '-1'"),
        (["--l2", "nan"], "--l2: must be a finite number >= 0"),
    ],
)
def test_bad_flags_give_one_line_and_exit_code_2(args, message):
    result = _run(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("caviar gradcheck: error: " + message)
