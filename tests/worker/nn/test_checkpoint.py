"""Checkpoint and resume: a paused and resumed run equals an uninterrupted one, bit for bit
(METHODS.md section 4), and checkpoint data that cannot be resumed from is refused."""

import dataclasses
import hashlib
import io
import re

import numpy as np
import pytest

from domain.training import TrainingConfig
from worker.nn.checkpoint import Checkpoint, CheckpointError, sha256_of
from worker.nn.train import EpochReport, TrainResult, TrainStatus, standardization, train

OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")


def _data(rows: int = 70, features: int = 5):
    """Three classes; 70 rows make batches of 16 end with one of 6."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, rows + 25)
    X = rng.standard_normal((3, features))[y] * 2 + rng.standard_normal((rows + 25, features))
    X = X * 10 + 3
    return X[:rows], y[:rows], X[rows:], y[rows:]


DATA = _data()


def _config(**changes) -> TrainingConfig:
    """Every part of the state in play: batch norm, dropout, decay, a short last batch."""
    values = {"hidden_layers": [8, 6], "batch_norm": True, "keep_prob": 0.8,
              "lr_decay": "inverse_time", "decay_rate": 0.5, "batch_size": 16,
              "learning_rate": 0.02, "epochs": 6, "seed": 11}
    return TrainingConfig.from_dict({**values, **changes})


def _train(config: TrainingConfig, stop_after: int | None = None,
           resume: Checkpoint | None = None, data=DATA
           ) -> tuple[TrainResult, list[EpochReport]]:
    """A run that stops once stop_after epochs (counted from 0, not from the resume) are done."""
    reports: list[EpochReport] = []

    def on_epoch(report: EpochReport) -> bool:
        reports.append(report)
        return stop_after is None or report.epoch + 1 < stop_after

    return train(config, *data, on_epoch=on_epoch, resume=resume), reports


def _through_bytes(result: TrainResult) -> Checkpoint:
    return Checkpoint.from_bytes(result.checkpoint().to_bytes())


def _without_seconds(reports: list[EpochReport]) -> list[EpochReport]:
    return [dataclasses.replace(report, seconds=0.0) for report in reports]


def _assert_same_state(a: Checkpoint, b: Checkpoint) -> None:
    assert (a.epoch, a.optimizer.t, a.fingerprint) == (b.epoch, b.optimizer.t, b.fingerprint)
    assert (a.shuffle_rng, a.dropout_rngs) == (b.shuffle_rng, b.dropout_rngs)
    for name in ("running_mean", "running_var"):
        assert len(getattr(a, name)) == len(getattr(b, name))
        for x, y in zip(getattr(a, name), getattr(b, name), strict=True):
            assert np.array_equal(x, y) and x.dtype == y.dtype
    for x, y in zip((a.params, *a.optimizer.v, *a.optimizer.s),
                    (b.params, *b.optimizer.v, *b.optimizer.s), strict=True):
        assert np.array_equal(x, y) and x.dtype == y.dtype


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("changes", [{}, {"batch_norm": False, "lr_decay": "staircase",
                                          "decay_every": 2}], ids=["batch_norm", "biases"])
def test_a_run_paused_twice_equals_the_run_never_paused(optimizer, changes):
    config = _config(optimizer=optimizer, **changes)
    straight, straight_reports = _train(config)

    first, reports = _train(config, stop_after=2)
    second, more = _train(config, stop_after=4, resume=_through_bytes(first))
    last, rest = _train(config, resume=_through_bytes(second))

    assert [r.status for r in (first, second, last)] == [TrainStatus.STOPPED,
                                                         TrainStatus.STOPPED,
                                                         TrainStatus.FINISHED]
    assert [r.epochs for r in (first, second, last)] == [2, 4, 6]
    assert [r.epoch for r in more] == [2, 3]
    assert _without_seconds(reports + more + rest) == _without_seconds(straight_reports)
    assert np.array_equal(last.model.network.flat_params, straight.model.network.flat_params)
    assert (last.dev_loss, last.dev_accuracy, last.train_accuracy) == (
        straight.dev_loss, straight.dev_accuracy, straight.train_accuracy)
    _assert_same_state(last.checkpoint(), straight.checkpoint())


def test_the_learning_rate_follows_the_true_epoch_after_a_resume():
    config = _config(lr_decay="inverse_time", decay_rate=1.0, learning_rate=0.1)
    paused, _ = _train(config, stop_after=3)
    _, reports = _train(config, resume=paused.checkpoint())
    assert [r.epoch for r in reports] == [3, 4, 5]
    assert [r.learning_rate for r in reports] == [0.1 / 4, 0.1 / 5, 0.1 / 6]


def test_a_finished_run_goes_on_when_given_more_epochs():
    """Promotion to the next rung: the paused run had epochs = the rung's budget."""
    straight, straight_reports = _train(_config(epochs=6))
    rung, reports = _train(_config(epochs=3))
    assert rung.status == TrainStatus.FINISHED
    promoted, more = _train(_config(epochs=6), resume=_through_bytes(rung))
    assert _without_seconds(reports + more) == _without_seconds(straight_reports)
    _assert_same_state(promoted.checkpoint(), straight.checkpoint())


def test_one_checkpoint_resumes_the_same_run_twice_and_stays_as_taken():
    paused, _ = _train(_config(), stop_after=2)
    checkpoint = paused.checkpoint()
    before = checkpoint.to_bytes()
    first, second = (_train(_config(), resume=checkpoint)[0] for _ in range(2))
    assert np.array_equal(first.model.network.flat_params, second.model.network.flat_params)
    _assert_same_state(Checkpoint.from_bytes(before), checkpoint)
    with pytest.raises(ValueError, match="read-only"):
        checkpoint.params[0] = 0.0


def test_bytes_are_an_npz_file_without_pickles_and_round_trip():
    checkpoint = _train(_config(optimizer="adam"), stop_after=2)[0].checkpoint()
    data = checkpoint.to_bytes()
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        assert sorted(npz.files) == ["meta", "params", "running_mean_0", "running_mean_1",
                                     "running_var_0", "running_var_1", "s_0", "v_0"]
    back = Checkpoint.from_bytes(data)
    _assert_same_state(back, checkpoint)
    assert back.epoch == 2 and back.optimizer.t == 2 * 5  # five mini-batches an epoch
    assert len(back.dropout_rngs) == 2 and back.fingerprint["hidden"] == [8, 6]
    assert sha256_of(data) == hashlib.sha256(data).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", sha256_of(data))


def test_a_diverged_run_has_no_checkpoint():
    config = _config(optimizer="sgd", learning_rate=1000.0, hidden_layers=[32, 32, 32],
                     batch_norm=False, keep_prob=1.0, lr_decay="none", epochs=20)
    result, _ = _train(config)
    assert result.status == TrainStatus.DIVERGED
    with pytest.raises(CheckpointError, match=r"a diverged run has none \(diverged at epoch"):
        result.checkpoint()


def test_a_resumed_run_that_diverges_at_once_counts_the_epochs_before_the_resume():
    checkpoint = _train(_config(), stop_after=3)[0].checkpoint()
    blown_up = dataclasses.replace(checkpoint, params=checkpoint.params * np.float32(1e30))
    result, reports = _train(_config(), resume=blown_up)
    assert result.status == TrainStatus.DIVERGED and not reports
    assert result.epochs == 3 and result.error.startswith("diverged at epoch 3 ")


def _npz(**entries) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **entries)
    return buffer.getvalue()


GOOD = _train(_config(), stop_after=2)[0].checkpoint().to_bytes()


def _with_a_flipped_parameter() -> bytes:
    at = GOOD.index(Checkpoint.from_bytes(GOOD).params.tobytes()) + 5
    return GOOD[:at] + bytes([GOOD[at] ^ 0xFF]) + GOOD[at + 1:]


@pytest.mark.parametrize(("data", "fragment"), [
    (b"", "not an .npz file"),
    (b"checkpoint", "not an .npz file"),
    (_npz(params=np.zeros(3)), "the entry meta (a JSON string) is missing"),
    (_npz(meta=np.array('{"format": "other/1"}')), "meta is not of the format caviar-checkpoint/1"),
    (_npz(meta=np.array("{")), "meta is not JSON"),
    (GOOD[:len(GOOD) // 2], "corrupt or truncated .npz data"),
    (GOOD[:-1], "corrupt or truncated .npz data"),
    (_with_a_flipped_parameter(), "Bad CRC-32 for file 'params.npy'"),
], ids=["empty", "text", "no-meta", "other-format", "bad-json", "half", "one-byte-short",
        "flipped"])
def test_bad_bytes_are_refused_with_what_is_wrong(data, fragment):
    with pytest.raises(CheckpointError, match=re.escape(fragment)):
        Checkpoint.from_bytes(data)


def test_every_truncation_and_flipped_byte_is_refused_or_changes_nothing():
    """Zip headers hold bytes no checksum covers (dates, flags): a flip there is harmless."""
    good = Checkpoint.from_bytes(GOOD)
    damaged = [GOOD[:length] for length in range(0, len(GOOD), 7)]
    for position in range(0, len(GOOD), 3):
        flipped = bytearray(GOOD)
        flipped[position] ^= 0xFF
        damaged.append(bytes(flipped))
    for data in damaged:
        try:
            checkpoint = Checkpoint.from_bytes(data)
        except CheckpointError:
            continue
        _assert_same_state(checkpoint, good)


@pytest.mark.parametrize(("changes", "data", "fragment"), [
    ({"hidden_layers": [8, 5]}, DATA, "hidden is [8, 5] here, [8, 6] in the checkpoint"),
    ({"optimizer": "sgd"}, DATA, "optimizer is 'sgd' here, 'adam' in the checkpoint"),
    ({"batch_norm": False}, DATA, "batch_norm is False here, True in the checkpoint"),
    ({"keep_prob": 1.0}, DATA, "dropout is False here, True in the checkpoint"),
    ({"activation": "tanh"}, DATA, "activation is 'tanh' here, 'relu' in the checkpoint"),
    ({}, _data(rows=60), "train_rows is 60 here, 70 in the checkpoint"),
    ({}, _data(features=4), "n_features is 4 here, 5 in the checkpoint"),
], ids=["hidden", "optimizer", "batch_norm", "dropout", "activation", "rows", "features"])
def test_a_checkpoint_of_another_network_or_data_is_refused(changes, data, fragment):
    checkpoint = _train(_config(optimizer="adam"), stop_after=2)[0].checkpoint()
    with pytest.raises(CheckpointError, match="of another network or data: .*" +
                       re.escape(fragment)):
        _train(_config(**{"optimizer": "adam", **changes}), resume=checkpoint, data=data)


@pytest.mark.parametrize("epochs", [2, 1])
def test_a_checkpoint_at_or_beyond_the_configs_epochs_is_refused(epochs):
    checkpoint = _train(_config(epochs=2))[0].checkpoint()
    assert checkpoint.epoch == 2
    with pytest.raises(CheckpointError, match=rf"at epoch 2, but epochs is {epochs}: no epoch"):
        train(_config(epochs=epochs), *DATA, resume=checkpoint)


def test_state_that_does_not_fit_the_network_is_refused():
    checkpoint = _train(_config(optimizer="adam"), stop_after=2)[0].checkpoint()
    short = dataclasses.replace(checkpoint, params=checkpoint.params[:-1])
    with pytest.raises(CheckpointError, match=r"params is float32 \(\d+,\), the network needs"):
        train(_config(optimizer="adam"), *DATA, resume=short)
    one_mean = dataclasses.replace(checkpoint, running_mean=checkpoint.running_mean[:1])
    with pytest.raises(CheckpointError, match="holds 1 running means, 2 running variances and "
                       "2 dropout generator states for 2 batch-norm and 2 dropout layers"):
        train(_config(optimizer="adam"), *DATA, resume=one_mean)
    optimizer = dataclasses.replace(checkpoint.optimizer, s=())
    with pytest.raises(CheckpointError, match="optimizer state: Adam at t=10 keeps v and s"):
        train(_config(optimizer="adam"), *DATA,
              resume=dataclasses.replace(checkpoint, optimizer=optimizer))
    with pytest.raises(CheckpointError, match="not a generator state"):
        train(_config(optimizer="adam"), *DATA,
              resume=dataclasses.replace(checkpoint, shuffle_rng={"bit_generator": "MT19937"}))


def test_standardization_is_recomputed_bit_for_bit():
    """A resumed run does not store mu and sigma: the same data must give the same bits."""
    X = DATA[0]
    mu, sigma = standardization(X)
    again, copy = standardization(X), standardization(X.copy())
    for other in (again, copy):
        assert np.array_equal(mu, other[0]) and np.array_equal(sigma, other[1])
