"""The training configuration: every key a trial can set, its rule and its default.

This is the one definition of the training keys. The engine (worker.nn) trains
from a `TrainingConfig`; the CLI parses `--set key=value` with `parse_value`; the
server checks a search spec's `parameters` and `fixed` sections with `check_value`
and `KEYS`. Defaults follow METHODS.md and are written once, in `KEYS`: the
dataclass's fields take theirs from there.

The names a choice key takes (activations, initializations, optimizers,
learning-rate schedules) are defined here; the engine's registries implement
exactly these (tests/worker/nn checks it), so the domain never imports the engine.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

ACTIVATIONS: tuple[str, ...] = ("relu", "leaky_relu", "tanh", "sigmoid")
INITS: tuple[str, ...] = ("he", "xavier", "auto")
OPTIMIZERS: tuple[str, ...] = ("sgd", "momentum", "rmsprop", "adam")
LR_DECAYS: tuple[str, ...] = ("none", "inverse_time", "exponential", "inverse_sqrt", "staircase")

# Default decay_rate per schedule, used when decay_rate is not given:
# inverse_time and inverse_sqrt take it as k, exponential as the base,
# staircase as the factor applied every decay_every epochs.
DEFAULT_DECAY_RATE: dict[str, float] = {
    "none": 0.0,
    "inverse_time": 1.0,
    "exponential": 0.95,
    "inverse_sqrt": 1.0,
    "staircase": 0.5,
}


MAX_HIDDEN_LAYERS = 16
"""The most hidden layers a trial trains (`num_layers`, or the length of `hidden_layers`)."""
MAX_LAYER_WIDTH = 4096
"""The most units in one hidden layer (`hidden_units`, or an entry of `hidden_layers`). With
MAX_HIDDEN_LAYERS it bounds a network's size; domain.cost bounds a whole trial's memory and
compute."""


def _number_text(value: float) -> str:
    """A bound as people write it: 4294967295, 1000000, 0.5."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


class ConfigError(ValueError):
    """A training key or value that breaks its rule; names the key and the rule."""

    def __init__(self, key: str, rule: str) -> None:
        super().__init__(f"{key}: {rule}")
        self.key = key
        self.rule = rule


@dataclass(frozen=True)
class KeySpec:
    """The rule of one training key.

    kind is "int", "float", "bool", "choice" or "int_list". Numeric keys are
    bounded by low/high (inclusive unless low_open/high_open); choice keys
    take one of `choices`. `doc` says what the key does (`caviar train --help`
    and the spec's JSON Schema show it).
    """

    name: str
    kind: str
    default: Any
    doc: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()
    nullable: bool = False
    max_items: int | None = None
    """int_list: the most entries the list may have."""

    def rule(self) -> str:
        """The rule in words, as error messages and help texts show it."""
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "bool":
            return "true or false"
        what = {"int": "an integer", "float": "a finite number", "int_list": "a list of integers"}
        text = what[self.kind]
        if self.low is not None or self.high is not None:
            lo_sign = "<" if self.low_open else "<="
            hi_sign = "<" if self.high_open else "<="
            lo = "" if self.low is None else f"{_number_text(self.low)} {lo_sign} "
            hi = "" if self.high is None else f" {hi_sign} {_number_text(self.high)}"
            text += f" with {lo}value{hi}" if self.kind != "int_list" else f", each {lo}n{hi}"
        if self.max_items is not None:
            text += f", at most {self.max_items} of them"
        return text

    def json_schema(self) -> dict[str, Any]:
        """The key's values as JSON Schema: type, bounds or choices, default, and `doc`."""
        schema: dict[str, Any]
        if self.kind == "choice":
            schema = {"type": "string", "enum": list(self.choices)}
        elif self.kind == "bool":
            schema = {"type": "boolean"}
        else:
            number: dict[str, Any] = {"type": "number" if self.kind == "float" else "integer"}
            if self.low is not None:
                number["exclusiveMinimum" if self.low_open else "minimum"] = self.low
            if self.high is not None:
                number["exclusiveMaximum" if self.high_open else "maximum"] = self.high
            schema = number
            if self.kind == "int_list":
                schema = {"type": "array", "items": number, "minItems": 1}
                if self.max_items is not None:
                    schema["maxItems"] = self.max_items
        if self.nullable:
            schema = {"anyOf": [schema, {"type": "null"}]}
        return {**schema, "default": self.default, "description": self.doc}

    def check(self, value: Any) -> Any:
        """Return the value in its canonical Python type, or raise ConfigError."""
        if value is None:
            if self.nullable:
                return None
            raise ConfigError(self.name, f"must be {self.rule()}, got null")
        if self.kind == "choice":
            if not isinstance(value, str) or value not in self.choices:
                raise ConfigError(self.name, f"must be {self.rule()}, got {value!r}")
            return value
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise ConfigError(self.name, f"must be true or false, got {value!r}")
            return value
        if self.kind == "int_list":
            if not isinstance(value, list | tuple) or not value:
                raise ConfigError(self.name, f"must be a non-empty list of integers, got {value!r}")
            if self.max_items is not None and len(value) > self.max_items:
                raise ConfigError(self.name, f"must be {self.rule()}, got a list of "
                                  f"{len(value)}")
            return [self._number(v, integer=True) for v in value]
        return self._number(value, integer=self.kind == "int")

    def _number(self, value: Any, integer: bool) -> int | float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(self.name, f"must be {self.rule()}, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(self.name, f"must be {self.rule()}, got {value!r}")
        number: int | float
        if integer:
            if float(value) != int(value):
                raise ConfigError(self.name, f"must be {self.rule()}, got {value!r}")
            number = int(value)
        else:
            number = float(value)
        too_low = self.low is not None and (
            number <= self.low if self.low_open else number < self.low
        )
        too_high = self.high is not None and (
            number >= self.high if self.high_open else number > self.high
        )
        if too_low or too_high:
            raise ConfigError(self.name, f"must be {self.rule()}, got {number!r}")
        return number


_SPECS = (
    KeySpec("num_layers", "int", 2, "number of hidden layers", low=1, high=MAX_HIDDEN_LAYERS),
    KeySpec("hidden_units", "int", 64, "units in each hidden layer", low=1,
            high=MAX_LAYER_WIDTH),
    KeySpec(
        "hidden_layers", "int_list", None,
        "explicit hidden layer sizes; overrides num_layers and hidden_units",
        low=1, high=MAX_LAYER_WIDTH, nullable=True, max_items=MAX_HIDDEN_LAYERS,
    ),
    KeySpec("activation", "choice", "relu", "hidden activation", choices=ACTIVATIONS),
    KeySpec("init", "choice", "auto", "weight initialization; auto picks he for relu-like "
            "activations, xavier for tanh and sigmoid", choices=INITS),
    KeySpec("batch_norm", "bool", False, "batch normalization before each hidden activation"),
    KeySpec("bn_momentum", "float", 0.9, "momentum of batch norm's running mean and variance",
            low=0, high=1, low_open=True, high_open=True),
    KeySpec("l2", "float", 0.0, "L2 regularization strength lambda", low=0),
    KeySpec("keep_prob", "float", 1.0, "inverted dropout keep probability (1 = no dropout)",
            low=0, high=1, low_open=True),
    KeySpec("optimizer", "choice", "adam", "update rule", choices=OPTIMIZERS),
    KeySpec("learning_rate", "float", 0.001, "initial learning rate alpha0",
            low=0, low_open=True, high=1e3),
    KeySpec("beta1", "float", 0.9, "momentum's beta, Adam's beta1",
            low=0, high=1, high_open=True),
    KeySpec("beta2", "float", 0.999, "RMSprop's and Adam's beta2", low=0, high=1, high_open=True),
    KeySpec("epsilon", "float", 1e-8, "RMSprop's and Adam's epsilon",
            low=0, high=1, low_open=True),
    KeySpec("lr_decay", "choice", "none", "learning-rate decay schedule, per epoch",
            choices=LR_DECAYS),
    KeySpec("decay_rate", "float", None, "k of inverse_time and inverse_sqrt, base of "
            "exponential, factor of staircase; none takes the schedule's own (DEFAULT_DECAY_RATE)",
            low=0, nullable=True),
    KeySpec("decay_every", "int", 10, "staircase: epochs between cuts", low=1, high=1_000_000),
    KeySpec("batch_size", "int", 64, "mini-batch size", low=1, high=1_000_000),
    KeySpec("epochs", "int", 20, "passes over the training set", low=1, high=100_000),
    KeySpec("seed", "int", 0, "seed of initialization, shuffling and dropout",
            low=0, high=2**32 - 1),
)

KEYS: dict[str, KeySpec] = {spec.name: spec for spec in _SPECS}


def check_value(key: str, value: Any) -> Any:
    """Check one key's value; return it in canonical type or raise ConfigError."""
    spec = KEYS.get(key)
    if spec is None:
        raise ConfigError(key, "unknown training key; known keys: " + ", ".join(KEYS))
    return spec.check(value)


def parse_value(key: str, text: str) -> Any:
    """Parse a command-line `key=value` value into the key's type, then check it."""
    spec = KEYS.get(key)
    if spec is None:
        raise ConfigError(key, "unknown training key; known keys: " + ", ".join(KEYS))
    raw: Any = text.strip()
    if spec.nullable and raw.lower() in ("none", "null", ""):
        raw = None
    elif spec.kind == "bool":
        lowered = raw.lower()
        if lowered in ("true", "yes", "1", "on"):
            raw = True
        elif lowered in ("false", "no", "0", "off"):
            raw = False
    elif spec.kind == "int_list":
        try:
            raw = [int(part) for part in raw.strip("[]").split(",") if part.strip()]
        except ValueError:
            raise ConfigError(key, f"must be {spec.rule()}, got {text!r}") from None
    elif spec.kind in ("int", "float"):
        try:
            raw = float(raw) if spec.kind == "float" or "e" in raw.lower() else int(raw)
        except ValueError:
            raise ConfigError(key, f"must be {spec.rule()}, got {text!r}") from None
    return spec.check(raw)


@dataclass(frozen=True)
class TrainingConfig:
    """What one trial trains: the training keys of DESIGN.md, defaults from `KEYS`."""

    num_layers: int = KEYS["num_layers"].default
    hidden_units: int = KEYS["hidden_units"].default
    hidden_layers: list[int] | None = KEYS["hidden_layers"].default
    activation: str = KEYS["activation"].default
    init: str = KEYS["init"].default
    batch_norm: bool = KEYS["batch_norm"].default
    bn_momentum: float = KEYS["bn_momentum"].default
    l2: float = KEYS["l2"].default
    keep_prob: float = KEYS["keep_prob"].default
    optimizer: str = KEYS["optimizer"].default
    learning_rate: float = KEYS["learning_rate"].default
    beta1: float = KEYS["beta1"].default
    beta2: float = KEYS["beta2"].default
    epsilon: float = KEYS["epsilon"].default
    lr_decay: str = KEYS["lr_decay"].default
    decay_rate: float | None = KEYS["decay_rate"].default
    decay_every: int = KEYS["decay_every"].default
    batch_size: int = KEYS["batch_size"].default
    epochs: int = KEYS["epochs"].default
    seed: int = KEYS["seed"].default

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrainingConfig:
        """Build a config from key/value pairs; unknown keys and bad values raise ConfigError."""
        checked = {key: check_value(key, value) for key, value in values.items()}
        config = cls(**checked)
        config.check_consistency()
        return config

    def check_consistency(self) -> None:
        """Rules that involve more than one key."""
        rate = self.effective_decay_rate
        if self.lr_decay in ("exponential", "staircase") and not 0 < rate <= 1:
            raise ConfigError(
                "decay_rate", f"must satisfy 0 < value <= 1 for lr_decay={self.lr_decay}, "
                f"got {rate!r}",
            )

    @property
    def effective_decay_rate(self) -> float:
        """decay_rate, or the schedule's default when it is not set."""
        if self.decay_rate is None:
            return DEFAULT_DECAY_RATE[self.lr_decay]
        return self.decay_rate

    def hidden_sizes(self) -> list[int]:
        """Sizes of the hidden layers."""
        if self.hidden_layers is not None:
            return list(self.hidden_layers)
        return [self.hidden_units] * self.num_layers

    def to_dict(self) -> dict[str, Any]:
        """All keys with their values, JSON-ready."""
        return asdict(self)

