"""The training-key definition: one rule per key, matching TrainingConfig."""

from dataclasses import fields

import pytest

from domain.training import (
    DEFAULT_DECAY_RATE,
    KEYS,
    LR_DECAYS,
    ConfigError,
    TrainingConfig,
    check_value,
    parse_value,
)


def test_keys_match_the_dataclass_fields_and_defaults():
    assert [f.name for f in fields(TrainingConfig)] == list(KEYS)
    assert all(KEYS[f.name].default == f.default for f in fields(TrainingConfig))


def test_every_schedule_has_a_default_decay_rate():
    assert tuple(DEFAULT_DECAY_RATE) == LR_DECAYS


def test_defaults_build_a_config():
    config = TrainingConfig.from_dict({})
    assert config.optimizer == "adam" and config.learning_rate == 0.001
    assert config.hidden_sizes() == [64, 64]


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("optimizer", "adamw", "one of sgd, momentum, rmsprop, adam"),
        ("learning_rate", 0.0, "0 < value"),
        ("learning_rate", float("nan"), "finite"),
        ("keep_prob", 1.5, "value <= 1"),
        ("batch_norm", "yes", "true or false"),
        ("batch_size", 3.5, "an integer"),
        ("hidden_layers", [], "non-empty list"),
        ("nonsense", 1, "unknown training key"),
    ],
)
def test_bad_values_name_the_key_and_the_rule(key, value, fragment):
    with pytest.raises(ConfigError) as info:
        check_value(key, value)
    assert info.value.key == key
    assert fragment in str(info.value)


def test_parse_value_reads_command_line_text():
    assert parse_value("batch_norm", "true") is True
    assert parse_value("learning_rate", "1e-3") == pytest.approx(0.001)
    assert parse_value("batch_size", "128") == 128
    assert parse_value("hidden_layers", "64,32") == [64, 32]
    with pytest.raises(ConfigError, match="batch_size"):
        parse_value("batch_size", "many")


def test_exponential_decay_needs_a_base_below_one():
    with pytest.raises(ConfigError, match="decay_rate"):
        TrainingConfig.from_dict({"lr_decay": "exponential", "decay_rate": 2.0})
    assert TrainingConfig.from_dict({"lr_decay": "exponential"}).effective_decay_rate == 0.95
