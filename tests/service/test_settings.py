"""Server settings from the environment: defaults, values, and one-line errors."""

from __future__ import annotations

import pytest

from service.settings import Settings, SettingsError


def test_defaults():
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite:///./caviar.db"
    assert (settings.lease_seconds, settings.heartbeat_seconds) == (60.0, 10.0)
    assert settings.max_trials == 10_000 and settings.max_upload_bytes == 100 * 1024 * 1024
    assert settings.workers == 1


def test_environment_values_and_overrides():
    env = {"CAVIAR_DATABASE_URL": "sqlite:///x.db", "CAVIAR_LEASE_SECONDS": "2.5",
           "CAVIAR_MAX_TRIALS": "50", "CAVIAR_REQUEUE_SECONDS": "0.5", "CAVIAR_WORKERS": "3"}
    settings = Settings.from_env(env, database_url=None, heartbeat_seconds=1.0)
    assert settings.database_url == "sqlite:///x.db" and settings.lease_seconds == 2.5
    assert settings.max_trials == 50 and settings.requeue_seconds == 0.5
    assert settings.heartbeat_seconds == 1.0 and settings.workers == 3
    assert Settings.from_env(env, database_url="sqlite:///y.db").database_url == "sqlite:///y.db"


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("CAVIAR_LEASE_SECONDS", "soon", "must be a number"),
        ("CAVIAR_LEASE_SECONDS", "0", "must be > 0"),
        ("CAVIAR_MAX_TRIALS", "1.5", "must be an integer"),
        ("CAVIAR_MAX_UPLOAD_BYTES", "-1", "must be > 0"),
        ("CAVIAR_WORKERS", "two", "must be an integer"),
    ],
)
def test_a_bad_value_names_the_variable_and_the_rule(name, value, fragment):
    with pytest.raises(SettingsError, match=f"{name}: {fragment}"):
        Settings.from_env({name: value})
