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
           "CAVIAR_HEARTBEAT_SECONDS": "0.8",
           "CAVIAR_MAX_TRIALS": "50", "CAVIAR_REQUEUE_SECONDS": "0.5", "CAVIAR_WORKERS": "3"}
    settings = Settings.from_env(env, database_url=None, heartbeat_seconds=0.5)
    assert settings.database_url == "sqlite:///x.db" and settings.lease_seconds == 2.5
    assert settings.max_trials == 50 and settings.requeue_seconds == 0.5
    assert settings.heartbeat_seconds == 0.5 and settings.workers == 3
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


@pytest.mark.parametrize(("lease", "heartbeat"), [("20", "10"), ("10", "10"), ("3", "1.01")])
def test_a_heartbeat_not_well_below_the_lease_names_both_and_the_rule(lease, heartbeat):
    env = {"CAVIAR_LEASE_SECONDS": lease, "CAVIAR_HEARTBEAT_SECONDS": heartbeat}
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(env)
    message = str(refused.value)
    assert message.startswith(f"CAVIAR_HEARTBEAT_SECONDS ({float(heartbeat):g}) must be at "
                              f"most a third of CAVIAR_LEASE_SECONDS ({float(lease):g})")
    assert "two lost heartbeats" in message


@pytest.mark.parametrize(("lease", "heartbeat"), [("30", "10"), ("3", "1"), ("0.3", "0.1")])
def test_a_heartbeat_of_a_third_of_the_lease_or_less_is_taken(lease, heartbeat):
    settings = Settings.from_env({"CAVIAR_LEASE_SECONDS": lease,
                                  "CAVIAR_HEARTBEAT_SECONDS": heartbeat})
    assert settings.heartbeat_seconds == float(heartbeat)


def test_settings_made_in_code_follow_the_same_rule():
    with pytest.raises(SettingsError, match="CAVIAR_HEARTBEAT_SECONDS"):
        Settings(lease_seconds=1.0)
