"""What one trial of a search may cost at worst: memory and compute, checked before any trial
exists.

A spec whose every key is within its own range may still ask for trials no worker
can run (16 layers of 4096 units with Adam, a batch of a million rows, a million
epochs): each would die of MemoryError, or run for months, on every worker. So a
search is refused with a 422 when the worst trial its space allows is estimated
above `MAX_TRIAL_BYTES` or `MAX_TRIAL_FLOPS`. The estimate follows the NumPy engine
(worker.nn), float32 throughout:

- memory: the parameters (weights and biases of every layer) in `PARAMETER_COPIES`
  arrays (the weights, their gradients, the optimizer's scratch and Adam's two
  moments); the activations of a mini-batch's forward and backward pass
  (`ACTIVATION_COPIES` arrays per unit and row: the affine output, batch norm's
  output, the activation, dropout's mask and output, the gradient) and of an
  evaluation chunk's forward pass (`EVAL_COPIES`); and the dataset in
  `DATA_BYTES_PER_VALUE` bytes per feature value (as loaded, standardized, split);
- compute: `FLOPS_PER_PARAMETER` (a multiply and an add forward, twice that
  backward) per parameter, per example, per epoch, every example counted (the
  dev rows are evaluated each epoch too).

The worst case over the space: each of `num_layers`, `hidden_units`,
`batch_size` and `epochs` at its largest (range top, largest choice, fixed value
or default), and every choice of `hidden_layers` tried. The dataset's shape is
known offline for the built-in datasets (domain.datasets.builtin_shape, so
`caviar validate` checks it), and to the server for an uploaded one (its stored
shape, checked when the search is created).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from domain.datasets import Shape
from domain.params import ChoiceParam, FloatParam, IntParam
from domain.spec_errors import RuleError
from domain.training import KEYS

MAX_TRIAL_BYTES = 2 * 1024**3
"""The most memory one trial may need: 2 GiB. A worker process trains one trial at a time,
and a machine runs one process per core: 2 GiB a core is what a cluster node has. The
largest network the layer caps allow (16 layers of 4096 units: 252 M parameters, about
5.7 GiB on digits) is over it; 6 such layers (84 M parameters, about 1.9 GiB) are under."""

MAX_TRIAL_FLOPS = 10**16
"""The most floating-point operations one trial may need: 10^16, about a week of one core
at the 15-20 GFLOP/s NumPy's float32 matrix products reach on small batches. Real searches
are far below (the digits example: 10^10); a trial above it would hold its worker for
months."""

BYTES_PER_VALUE = 4  # float32
PARAMETER_COPIES = 5
ACTIVATION_COPIES = 6
EVAL_ROWS = 4096  # rows evaluated at once (worker.nn.train.EVAL_CHUNK)
EVAL_COPIES = 2  # arrays per unit of an evaluation's forward pass (no gradients, no dropout)
DATA_BYTES_PER_VALUE = 16
FLOPS_PER_PARAMETER = 6

_SIZE_KEYS = ("num_layers", "hidden_units", "batch_size", "epochs")

Param = FloatParam | IntParam | ChoiceParam


@dataclass(frozen=True)
class TrialCost:
    """The estimate for one trial: its network, and what training it needs."""

    hidden: tuple[int, ...]
    batch_size: int
    epochs: int
    parameters: int
    parameter_bytes: int
    activation_bytes: int
    data_bytes: int
    flops: int

    @property
    def bytes(self) -> int:
        """All the memory the trial needs."""
        return self.parameter_bytes + self.activation_bytes + self.data_bytes


def trial_cost(shape: Shape, hidden: tuple[int, ...], batch_size: int, epochs: int
               ) -> TrialCost:
    """The estimate for a trial of these hidden layer sizes, batch size and epochs."""
    sizes = [shape.n_features, *hidden, shape.n_classes]
    parameters = sum(n_in * n_out + n_out
                     for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True))
    rows = (min(shape.n_samples, batch_size) * ACTIVATION_COPIES
            + min(shape.n_samples, EVAL_ROWS) * EVAL_COPIES)
    return TrialCost(
        hidden=hidden, batch_size=batch_size, epochs=epochs, parameters=parameters,
        parameter_bytes=parameters * PARAMETER_COPIES * BYTES_PER_VALUE,
        activation_bytes=rows * sum(sizes) * BYTES_PER_VALUE,
        data_bytes=shape.n_samples * shape.n_features * DATA_BYTES_PER_VALUE,
        flops=FLOPS_PER_PARAMETER * epochs * shape.n_samples * parameters,
    )


def _candidates(key: str, parameters: Mapping[str, Param], fixed: Mapping[str, Any]
                ) -> list[Any]:
    """The values the key may take in the space: a range's top, every choice, the fixed
    value, or the default."""
    param = parameters.get(key)
    if isinstance(param, ChoiceParam):
        return list(param.values)
    if isinstance(param, IntParam | FloatParam):
        return [param.high]
    return [fixed.get(key, KEYS[key].default)]


def worst_costs(parameters: Mapping[str, Param], fixed: Mapping[str, Any], shape: Shape
                ) -> tuple[TrialCost, TrialCost]:
    """The trials of the space that need the most memory and the most compute (checked
    values: the spec's parameters and fixed keys after their own rules)."""
    largest = {key: max(int(value) for value in _candidates(key, parameters, fixed))
               for key in _SIZE_KEYS}
    layouts = {tuple(layers) if layers is not None
               else (largest["hidden_units"],) * largest["num_layers"]
               for layers in _candidates("hidden_layers", parameters, fixed)}
    costs = [trial_cost(shape, hidden, largest["batch_size"], largest["epochs"])
             for hidden in sorted(layouts)]
    return (max(costs, key=lambda cost: cost.bytes), max(costs, key=lambda cost: cost.flops))


def _where(keys: tuple[str, ...], parameters: Mapping[str, Param], fixed: Mapping[str, Any]
           ) -> tuple[str, ...]:
    """The spec's field of the first of the keys it gives; else the dataset."""
    for key in keys:
        if key in parameters:
            return ("parameters", key)
        if key in fixed:
            return ("fixed", key)
    return ("dataset",)


def _gib(count: int) -> str:
    """Bytes as people read them: 5.67 GiB, 12.3 MiB."""
    if count >= 1024**3:
        return f"{count / 1024**3:.3g} GiB"
    return f"{count / 1024**2:.3g} MiB"


def _layers(hidden: tuple[int, ...]) -> str:
    if len(set(hidden)) == 1:
        return f"{len(hidden)} x {hidden[0]} units"
    return "[" + ", ".join(map(str, hidden)) + "] units"


_LAYER_KEYS = ("hidden_layers", "hidden_units", "num_layers")
_ADVICE = {"batch_size": "use a smaller batch_size", "dataset": "use a smaller dataset",
           "hidden_layers": "use fewer or narrower layers or a smaller batch_size"}


def cost_errors(parameters: Mapping[str, Param], fixed: Mapping[str, Any], shape: Shape
                ) -> list[RuleError]:
    """The limits the space's worst trial passes, each at the field that drives it (locs
    relative to the spec); empty if every trial fits."""
    most_memory, most_compute = worst_costs(parameters, fixed, shape)
    data = (f"{shape.n_samples} examples of {shape.n_features} features and "
            f"{shape.n_classes} classes")
    errors = []
    cost = most_memory
    if cost.bytes > MAX_TRIAL_BYTES:
        if cost.activation_bytes > cost.parameter_bytes and (
                "batch_size" in parameters or "batch_size" in fixed):
            loc = _where(("batch_size",), parameters, fixed)
        elif cost.data_bytes > cost.parameter_bytes + cost.activation_bytes:
            loc = ("dataset",)
        else:
            loc = _where(_LAYER_KEYS + ("batch_size",), parameters, fixed)
        errors.append(RuleError(loc, (
            f"a trial of this search could need about {_gib(cost.bytes)} of memory, more than "
            f"the limit of {_gib(MAX_TRIAL_BYTES)} per trial: hidden layers of "
            f"{_layers(cost.hidden)} ({cost.parameters:,} parameters: "
            f"{_gib(cost.parameter_bytes)}), batch_size {cost.batch_size} "
            f"({_gib(cost.activation_bytes)} of activations) on {data} "
            f"({_gib(cost.data_bytes)}); " + _ADVICE.get(loc[-1], _ADVICE["hidden_layers"])
        ), None))
    cost = most_compute
    if cost.flops > MAX_TRIAL_FLOPS:
        loc = _where(("epochs",) + _LAYER_KEYS, parameters, fixed)
        errors.append(RuleError(loc, (
            f"a trial of this search could need about {cost.flops:.2g} floating-point "
            f"operations, more than the limit of {MAX_TRIAL_FLOPS:.0e} per trial: "
            f"{FLOPS_PER_PARAMETER} x {cost.epochs} epochs x {shape.n_samples} examples x "
            f"{cost.parameters:,} parameters (hidden layers of {_layers(cost.hidden)}); "
            "train fewer epochs, or fewer or narrower layers"
        ), None))
    return errors
