"""Training one configuration: mini-batch gradient descent with a callback per epoch.

`train(config, X_train, y_train, X_dev, y_dev, on_epoch, on_batch)` standardizes
the inputs with the training set's mean and standard deviation, builds the
network of `config`, and runs `config.epochs` epochs. Each epoch shuffles the
training set afresh, takes one optimizer step per mini-batch (the last one may
be smaller), calling `on_batch` after each step, then evaluates on dev and
calls `on_epoch` with an EpochReport; an `on_epoch` that returns False stops
training. A non-finite cost ends training as DIVERGED. Training
runs in float32; the same config and seed give the same result.

A run that did not diverge gives a Checkpoint of its state after its last
completed epoch (`TrainResult.checkpoint()`), and `train(..., resume=checkpoint)`
goes on from it: epochs count on from the checkpoint's, and the run equals one
that was never paused, bit for bit (METHODS.md section 4).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from domain.training import TrainingConfig
from worker.nn import optimizers, schedules
from worker.nn.arrays import Float32Array, FloatArray, LabelArray, NumberArray
from worker.nn.checkpoint import Checkpoint, CheckpointError, TrainingState, fingerprint
from worker.nn.network import Architecture, Network

DTYPE = np.float32
EVAL_CHUNK = 4096  # rows evaluated at once
ScalarT = TypeVar("ScalarT", bound=np.generic)


@dataclass(frozen=True)
class EpochReport:
    """What one epoch did; epochs count from 0."""

    epoch: int
    train_loss: float
    dev_loss: float
    dev_accuracy: float
    learning_rate: float
    seconds: float

    def as_dict(self) -> dict[str, float | None]:
        """JSON-ready values of every field but epoch."""
        return {f.name: _json_number(getattr(self, f.name)) for f in fields(self)
                if f.name != "epoch"}


class Model:
    """A trained network with the standardization of its training set."""

    def __init__(self, network: Network, mu: Float32Array, sigma: Float32Array) -> None:
        self.network = network
        self.mu = mu
        self.sigma = sigma

    def standardize(self, X: NumberArray) -> Float32Array:
        """(X - mu) / sigma as a new float32 array."""
        out = np.empty(np.shape(X), DTYPE)
        np.subtract(X, self.mu, out=out, casting="unsafe")
        out /= self.sigma
        return out

    def evaluate(self, X: NumberArray, y: LabelArray) -> tuple[float, float]:
        """Mean cross-entropy (without L2) and accuracy on raw inputs X, labels y."""
        return self._evaluate((self.standardize(chunk) for chunk in _chunks(X)), np.asarray(y))

    def evaluate_standardized(self, X: FloatArray, y: LabelArray) -> tuple[float, float]:
        """Like evaluate, on inputs already standardized by this model (no copy of X)."""
        return self._evaluate(_chunks(X), np.asarray(y))

    def predict(self, X: NumberArray) -> LabelArray:
        """The predicted class of each row of raw inputs X."""
        chunks = [self.network.predict(self.standardize(chunk)) for chunk in _chunks(X)]
        return np.concatenate(chunks) if chunks else np.empty(0, np.int64)

    def _evaluate(self, batches: Iterator[FloatArray], y: LabelArray) -> tuple[float, float]:
        """Mean cost and accuracy over standardized batches of consecutive rows, labels y."""
        total_loss, correct, rows = 0.0, 0, 0
        loss = self.network.loss
        with np.errstate(all="ignore"):
            for batch in batches:
                labels = y[rows:rows + len(batch)]
                logits = self.network.forward(batch, training=False)
                total_loss += loss.cost(logits, labels) * len(labels)
                correct += int(np.count_nonzero(loss.predict(logits) == labels))
                rows += len(batch)
        return total_loss / rows, correct / rows


def _chunks(X: npt.NDArray[ScalarT]) -> Iterator[npt.NDArray[ScalarT]]:
    """Consecutive slices of EVAL_CHUNK rows of X (views, no copies)."""
    for start in range(0, len(X), EVAL_CHUNK):
        yield X[start:start + EVAL_CHUNK]


class TrainStatus(StrEnum):
    """How a training run ended."""

    FINISHED = "finished"
    """It ran every epoch."""
    STOPPED = "stopped"
    """A callback asked it to stop."""
    DIVERGED = "diverged"
    """Its cost stopped being finite."""


@dataclass
class TrainResult:
    """How training ended and the final metrics; epochs is the number of epochs run to
    their end, counting those before a resume. `training_state` is the run's live state,
    from which checkpoint() copies."""

    status: TrainStatus
    dev_accuracy: float
    dev_loss: float
    train_accuracy: float
    epochs: int
    seconds: float
    samples_per_second: float
    error: str | None
    model: Model
    training_state: TrainingState = field(repr=False)

    def checkpoint(self) -> Checkpoint:
        """The run's state after its last completed epoch, to resume from.

        A DIVERGED run has none: CheckpointError.
        """
        if self.status == TrainStatus.DIVERGED:
            raise CheckpointError(f"checkpoint: a diverged run has none ({self.error})")
        return self.training_state.checkpoint(self.epochs)

    def metrics(self) -> dict[str, float | None]:
        """JSON-ready final metrics (non-finite numbers become None)."""
        names = ("dev_accuracy", "dev_loss", "train_accuracy", "epochs", "seconds",
                 "samples_per_second")
        return {name: _json_number(getattr(self, name)) for name in names}


def _json_number(value: float) -> float | None:
    return value if math.isfinite(value) else None


def standardization(X: NumberArray) -> tuple[Float32Array, Float32Array]:
    """Per-feature mean and standard deviation of X; a constant feature gets sigma = 1."""
    mu = X.mean(axis=0, dtype=np.float64)
    sigma = X.std(axis=0, dtype=np.float64)
    sigma[sigma == 0] = 1.0
    return mu.astype(DTYPE), sigma.astype(DTYPE)


def _check_data(X: npt.NDArray[Any], y: npt.NDArray[Any], name: str) -> None:
    if X.ndim != 2:
        raise ValueError(f"X_{name}: must be a 2-D array (samples, features), got shape {X.shape}")
    if y.ndim != 1 or len(y) != len(X):
        raise ValueError(
            f"y_{name}: must be a 1-D array with one label per row of X_{name} "
            f"({len(X)}), got shape {y.shape}"
        )
    if len(X) == 0:
        raise ValueError(f"X_{name}: must have at least one sample")
    if not np.issubdtype(y.dtype, np.number) or y.min() < 0 or (y != np.round(y)).any():
        raise ValueError(f"y_{name}: must hold integer class labels 0..K-1")


def build_network(config: TrainingConfig, n_features: int, n_classes: int,
                  rng: np.random.Generator, dtype: type[np.floating[Any]] = DTYPE) -> Network:
    """The network that config describes, for n_features inputs and n_classes classes."""
    arch = Architecture(
        n_features=n_features,
        hidden=tuple(config.hidden_sizes()),
        n_classes=n_classes,
        activation=config.activation,
        init=config.init,
        batch_norm=config.batch_norm,
        bn_momentum=config.bn_momentum,
        l2=config.l2,
        keep_prob=config.keep_prob,
    )
    return Network(arch, rng, dtype)


def train(
    config: TrainingConfig,
    X_train: npt.ArrayLike,
    y_train: npt.ArrayLike,
    X_dev: npt.ArrayLike,
    y_dev: npt.ArrayLike,
    on_epoch: Callable[[EpochReport], bool | None] | None = None,
    on_batch: Callable[[], None] | None = None,
    resume: Checkpoint | None = None,
) -> TrainResult:
    """Train config on (X_train, y_train), evaluating on (X_dev, y_dev) after every epoch.

    `on_epoch` gets each epoch's report and stops training by returning False.
    `on_batch` is called after every optimizer step, with no arguments: a generic
    per-step hook for the caller's own work between steps (progress, or letting the
    caller's other threads run); it must not change the arrays being trained.
    `resume` goes on from a checkpoint (TrainResult.checkpoint()) of a run of the same
    config, but for epochs, and the same training data: the first epoch run is
    resume.epoch. CheckpointError, before training, when the checkpoint is of another
    network or data, or config.epochs leaves no epoch after it.
    """
    X_train, y_train = np.asarray(X_train), np.asarray(y_train)
    X_dev, y_dev = np.asarray(X_dev), np.asarray(y_dev)
    _check_data(X_train, y_train, "train")
    _check_data(X_dev, y_dev, "dev")
    y_train, y_dev = y_train.astype(np.int64, copy=False), y_dev.astype(np.int64, copy=False)
    if X_dev.shape[1] != X_train.shape[1]:
        raise ValueError(
            f"X_dev: must have the {X_train.shape[1]} features of X_train, got {X_dev.shape[1]}"
        )
    n_classes = int(max(y_train.max(), y_dev.max())) + 1
    if n_classes < 2:
        raise ValueError("y_train: must hold at least two classes")

    init_seed, shuffle_seed = np.random.SeedSequence(config.seed).spawn(2)
    network = build_network(config, X_train.shape[1], n_classes, np.random.default_rng(init_seed))
    optimizer = optimizers.create(
        config.optimizer, config.learning_rate, config.beta1, config.beta2, config.epsilon
    )
    shuffle_rng = np.random.default_rng(shuffle_seed)
    state = TrainingState(network, optimizer, shuffle_rng,
                          fingerprint(network, config.optimizer, len(X_train)))
    first_epoch = 0
    if resume is not None:
        if resume.epoch >= config.epochs:
            raise CheckpointError(f"checkpoint: at epoch {resume.epoch}, but epochs is "
                                  f"{config.epochs}: no epoch is left to run")
        state.restore(resume)
        first_epoch = resume.epoch
    mu, sigma = standardization(X_train)
    model = Model(network, mu, sigma)
    X = model.standardize(X_train)

    status, error = TrainStatus.FINISHED, None
    epochs_done, train_seconds, samples = first_epoch, 0.0, 0
    dev_loss, dev_accuracy = math.nan, 0.0
    started = time.perf_counter()
    with np.errstate(all="ignore"):
        for epoch in range(first_epoch, config.epochs):
            epoch_start = time.perf_counter()
            optimizer.learning_rate = schedules.learning_rate(
                config.lr_decay, config.learning_rate, epoch,
                config.effective_decay_rate, config.decay_every,
            )
            train_loss = _run_epoch(network, optimizer, X, y_train, config.batch_size, shuffle_rng,
                                    on_batch)
            train_seconds += time.perf_counter() - epoch_start
            samples += len(X)
            if math.isfinite(train_loss):
                dev_loss, dev_accuracy = model.evaluate(X_dev, y_dev)
            bad = train_loss if not math.isfinite(train_loss) else dev_loss
            if not math.isfinite(bad):
                status, error = TrainStatus.DIVERGED, f"diverged at epoch {epoch} (loss={bad})"
                break
            epochs_done = epoch + 1
            report = EpochReport(epoch, train_loss, dev_loss, dev_accuracy,
                                 optimizer.learning_rate, time.perf_counter() - epoch_start)
            if on_epoch is not None and on_epoch(report) is False:
                status = TrainStatus.STOPPED
                break
        train_accuracy = model.evaluate_standardized(X, y_train)[1]
    return TrainResult(
        status=status,
        dev_accuracy=dev_accuracy,
        dev_loss=dev_loss,
        train_accuracy=train_accuracy,
        epochs=epochs_done,
        seconds=time.perf_counter() - started,
        samples_per_second=samples / train_seconds if train_seconds > 0 else 0.0,
        error=error,
        model=model,
        training_state=state,
    )


def _run_epoch(network: Network, optimizer: optimizers.Optimizer, X: Float32Array,
               y: LabelArray, batch_size: int, rng: np.random.Generator,
               on_batch: Callable[[], None] | None) -> float:
    """One pass over a fresh shuffle of (X, y); the mean mini-batch cost, or a non-finite one.

    Makes no copy of X beyond the current batch.
    """
    order = rng.permutation(len(X))
    params, grads = [network.flat_params], [network.flat_grads]
    full = np.empty((min(batch_size, len(X)), X.shape[1]), X.dtype)
    total, batches = 0.0, 0
    for start in range(0, len(X), batch_size):
        index = order[start:start + batch_size]
        batch = full if len(index) == len(full) else np.empty((len(index), X.shape[1]), X.dtype)
        np.take(X, index, axis=0, out=batch)
        cost = network.train_step(batch, y[index])
        if not math.isfinite(cost):
            return cost
        optimizer.step(params, grads)
        if on_batch is not None:
            on_batch()
        total += cost
        batches += 1
    return total / batches
