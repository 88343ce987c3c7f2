"""Checkpoints: what a paused training run needs to go on exactly (METHODS.md section 4).

Promotion-based ASHA pauses a trial at a rung and may resume it later; the resumed
run must equal an uninterrupted one with the same seed, bit for bit. A Checkpoint
is taken after a completed epoch and holds the run's whole state: the epoch to
run next, the network's flat parameters, every batch-norm layer's running_mean
and running_var, the optimizer's t, v and s, and the states of the generators
that shuffle the training set and draw the dropout masks. The standardization
(mu, sigma) is not kept: the resumed run recomputes it, bit for bit, from the
same training data.

A fingerprint of the network and its data goes with it (sizes, activation,
batch norm, dropout, dtype, optimizer, training rows), so that a checkpoint of
another network is refused. Hyperparameters that only steer training (learning
rate, batch size, seed, ...) are not part of it: resuming with the config the
run started with is the caller's part.

`to_bytes` writes one .npz file without pickled objects: the arrays as entries,
the rest as the JSON string entry `meta`. `Checkpoint.from_bytes` reads it back
and raises CheckpointError, naming what is wrong, for anything else.
`TrainingState` holds the live objects of a run: it takes checkpoints of them and
restores checkpoints into them.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from worker.nn.arrays import FloatArray
from worker.nn.layers import BatchNorm, Dropout
from worker.nn.network import Network
from worker.nn.optimizers import Optimizer, OptimizerState

FORMAT = "caviar-checkpoint/1"
ZIP_PREFIX = b"PK\x03\x04"  # the first bytes of every zip file
GROUPS = ("running_mean", "running_var", "v", "s")
"""The numbered entries: name_0, name_1, ..., as many as meta's counts say."""

GeneratorState = dict[str, Any]
"""A numpy bit generator's state (`bit_generator.state`): strings and whole numbers."""
Fingerprint = dict[str, Any]
"""JSON-able facts about a run's network and data that a checkpoint must share with it."""


class CheckpointError(ValueError):
    """Checkpoint data that cannot be resumed from: unreadable, corrupt, or of another run."""


@dataclass(frozen=True, eq=False)
class Checkpoint:
    """The state of a run after `epoch` completed epochs (the next epoch to run, from 0).

    Its arrays are read-only copies: the checkpoint stays what it was when taken.
    `dropout_rngs` has one generator state per dropout layer (the layers share one
    generator today, so they are equal).
    """

    epoch: int
    params: FloatArray
    running_mean: tuple[FloatArray, ...]
    running_var: tuple[FloatArray, ...]
    optimizer: OptimizerState
    shuffle_rng: GeneratorState
    dropout_rngs: tuple[GeneratorState, ...]
    fingerprint: Fingerprint

    def to_bytes(self) -> bytes:
        """One .npz file: params, the GROUPS' numbered entries, and meta."""
        groups = dict(zip(GROUPS, (self.running_mean, self.running_var, self.optimizer.v,
                                   self.optimizer.s), strict=True))
        meta = {
            "format": FORMAT, "epoch": self.epoch, "t": self.optimizer.t,
            "shuffle_rng": self.shuffle_rng, "dropout_rngs": list(self.dropout_rngs),
            "fingerprint": self.fingerprint,
            "counts": {name: len(arrays) for name, arrays in groups.items()},
        }
        arrays = {"params": self.params}
        for name, group in groups.items():
            arrays |= {f"{name}_{index}": array for index, array in enumerate(group)}
        buffer = io.BytesIO()
        np.savez(buffer, allow_pickle=False, meta=np.array(json.dumps(meta)), **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Checkpoint:
        """The checkpoint that to_bytes wrote; CheckpointError for anything else."""
        entries = _read_npz(data)
        meta = _meta(entries)
        counts = _field(meta, "counts", dict)
        names = {name: [f"{name}_{index}" for index in range(_count(counts, name))]
                 for name in GROUPS}
        expected = {"meta", "params"}.union(*names.values())
        if entries.keys() != expected:
            missing, unexpected = expected - entries.keys(), entries.keys() - expected
            raise CheckpointError(f"checkpoint: entries missing: {sorted(missing) or 'none'}; "
                                  f"unexpected: {sorted(unexpected) or 'none'}")
        groups = {name: tuple(_array(entries, entry) for entry in group)
                  for name, group in names.items()}
        dropout_rngs = _field(meta, "dropout_rngs", list)
        if not all(isinstance(state, dict) for state in dropout_rngs):
            raise CheckpointError("checkpoint: dropout_rngs must be generator states (objects)")
        return cls(
            epoch=_count(meta, "epoch"),
            params=_array(entries, "params"),
            running_mean=groups["running_mean"],
            running_var=groups["running_var"],
            optimizer=OptimizerState(_count(meta, "t"), groups["v"], groups["s"]),
            shuffle_rng=_field(meta, "shuffle_rng", dict),
            dropout_rngs=tuple(dropout_rngs),
            fingerprint=_field(meta, "fingerprint", dict),
        )


def fingerprint(network: Network, optimizer: str, train_rows: int) -> Fingerprint:
    """The facts a checkpoint of a run of network must match: the network's sizes and
    kind, its dtype, the optimizer's rule and the number of training rows."""
    arch = network.arch
    return {
        "n_features": arch.n_features, "hidden": list(arch.hidden), "n_classes": arch.n_classes,
        "activation": arch.activation, "batch_norm": arch.batch_norm,
        "dropout": arch.keep_prob < 1, "dtype": network.dtype.name, "optimizer": optimizer,
        "train_rows": train_rows,
    }


@dataclass(frozen=True, eq=False)
class TrainingState:
    """The live objects a run carries from epoch to epoch, and their fingerprint."""

    network: Network
    optimizer: Optimizer
    shuffle_rng: np.random.Generator
    fingerprint: Fingerprint

    def checkpoint(self, epoch: int) -> Checkpoint:
        """A copy of the state as it is now, after `epoch` completed epochs."""
        running = [norm.state() for norm in self._norms()]
        optimizer = self.optimizer.state()
        return Checkpoint(
            epoch=epoch,
            params=_read_only(self.network.flat_params.copy()),
            running_mean=tuple(_read_only(mean) for mean, _ in running),
            running_var=tuple(_read_only(var) for _, var in running),
            optimizer=OptimizerState(optimizer.t, tuple(map(_read_only, optimizer.v)),
                                     tuple(map(_read_only, optimizer.s))),
            shuffle_rng=dict(self.shuffle_rng.bit_generator.state),
            dropout_rngs=tuple(dropout.state() for dropout in self._dropouts()),
            fingerprint=self.fingerprint,
        )

    def restore(self, checkpoint: Checkpoint) -> None:
        """Copy checkpoint's state into the live objects.

        Raises CheckpointError when the checkpoint is of another network or data, or its
        state does not fit the objects; they may then be partly restored, unfit to train.
        """
        self._check(checkpoint)
        self.network.flat_params[...] = checkpoint.params
        for norm, mean, var in zip(self._norms(), checkpoint.running_mean,
                                   checkpoint.running_var, strict=True):
            norm.load_state(mean, var)
        try:
            self.optimizer.load_state(checkpoint.optimizer)
        except ValueError as error:
            raise CheckpointError(f"checkpoint: optimizer state: {error}") from error
        try:
            self.shuffle_rng.bit_generator.state = checkpoint.shuffle_rng
            for dropout, state in zip(self._dropouts(), checkpoint.dropout_rngs, strict=True):
                dropout.load_state(state)
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(f"checkpoint: not a generator state ({error!r})") from error

    def _check(self, checkpoint: Checkpoint) -> None:
        """CheckpointError naming how checkpoint differs from this run, or what of it
        does not fit the live objects."""
        theirs, ours = checkpoint.fingerprint, self.fingerprint
        differences = [f"{key} is {ours.get(key)!r} here, {theirs.get(key)!r} in the checkpoint"
                       for key in {**ours, **theirs} if ours.get(key) != theirs.get(key)]
        if differences:
            raise CheckpointError("checkpoint: of another network or data: "
                                  + "; ".join(differences))
        norms, dropouts, params = self._norms(), self._dropouts(), self.network.flat_params
        counts = (len(checkpoint.running_mean), len(checkpoint.running_var),
                  len(checkpoint.dropout_rngs))
        if counts != (len(norms), len(norms), len(dropouts)):
            means, variances, generators = counts
            raise CheckpointError(
                f"checkpoint: holds {means} running means, {variances} running variances "
                f"and {generators} dropout generator states for {len(norms)} batch-norm "
                f"and {len(dropouts)} dropout layers"
            )
        pairs = [
            ("params", checkpoint.params, params),
            *(("running_mean", mean, norm.running_mean)
              for mean, norm in zip(checkpoint.running_mean, norms, strict=True)),
            *(("running_var", var, norm.running_var)
              for var, norm in zip(checkpoint.running_var, norms, strict=True)),
            *(("v", v, params) for v in checkpoint.optimizer.v),
            *(("s", s, params) for s in checkpoint.optimizer.s),
        ]
        for name, array, like in pairs:
            if array.shape != like.shape or array.dtype != like.dtype:
                raise CheckpointError(f"checkpoint: {name} is {array.dtype} {array.shape}, "
                                      f"the network needs {like.dtype} {like.shape}")

    def _norms(self) -> list[BatchNorm]:
        return [layer for layer in self.network.layers if isinstance(layer, BatchNorm)]

    def _dropouts(self) -> list[Dropout]:
        return [layer for layer in self.network.layers if isinstance(layer, Dropout)]


def sha256_of(data: bytes) -> str:
    """The SHA-256 of data as 64 hexadecimal digits (to check stored checkpoints)."""
    return hashlib.sha256(data).hexdigest()


def _read_only(array: FloatArray) -> FloatArray:
    """array, made read-only (it must be the checkpoint's own copy)."""
    array.flags.writeable = False
    return array


def _read_npz(data: bytes) -> dict[str, npt.NDArray[Any]]:
    """Every entry of the .npz file data, read in full so that a bad checksum shows here."""
    if not data.startswith(ZIP_PREFIX):
        raise CheckpointError("checkpoint: not an .npz file (it must start as a zip file)")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            entries = [(name, npz[name]) for name in npz.files]
    except (EOFError, OSError, RuntimeError, ValueError, zipfile.BadZipFile) as error:
        raise CheckpointError(
            f"checkpoint: corrupt or truncated .npz data ({type(error).__name__}: {error})"
        ) from error
    names = [name for name, _ in entries]
    if len(set(names)) != len(names):
        raise CheckpointError(f"checkpoint: corrupt .npz data (entries named twice: {names})")
    return dict(entries)


def _meta(entries: dict[str, npt.NDArray[Any]]) -> dict[str, Any]:
    """The JSON object of the entry `meta`, of this format."""
    text = entries.get("meta")
    if text is None or text.shape != () or text.dtype.kind != "U":
        raise CheckpointError("checkpoint: the entry meta (a JSON string) is missing")
    try:
        meta = json.loads(str(text))
    except json.JSONDecodeError as error:
        raise CheckpointError(f"checkpoint: meta is not JSON ({error})") from error
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint: meta is not of the format {FORMAT}")
    return meta


def _field(meta: dict[str, Any], name: str, kind: type[Any]) -> Any:
    value = meta.get(name)
    if not isinstance(value, kind):
        raise CheckpointError(f"checkpoint: {name} must be a JSON {kind.__name__}, got {value!r}")
    return value


def _count(values: dict[str, Any], name: str) -> int:
    value = values.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CheckpointError(f"checkpoint: {name} must be a whole number >= 0, got {value!r}")
    return value


def _array(entries: dict[str, npt.NDArray[Any]], name: str) -> FloatArray:
    array = entries[name]
    if array.dtype.kind != "f":
        raise CheckpointError(f"checkpoint: {name} must hold floats, got {array.dtype}")
    return _read_only(array)


