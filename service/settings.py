"""Server settings, read from the environment.

| variable | default | meaning |
| --- | --- | --- |
| `CAVIAR_DATABASE_URL` | `sqlite:///./caviar.db` | SQLAlchemy URL (or `postgresql+psycopg://`) |
| `CAVIAR_LEASE_SECONDS` | 60 | how long a claim or heartbeat keeps a trial leased |
| `CAVIAR_HEARTBEAT_SECONDS` | 10 | the heartbeat interval told to workers (<= lease / 3) |
| `CAVIAR_MAX_TRIALS` | 10000 | the largest `budget.max_trials` a search may ask for |
| `CAVIAR_MAX_BODY_BYTES` | 1048576 | the largest request body but uploads and checkpoints (1 MiB) |
| `CAVIAR_MAX_UPLOAD_BYTES` | 104857600 | the largest dataset upload (100 MiB) |
| `CAVIAR_MAX_CHECKPOINT_BYTES` | 67108864 | the largest checkpoint of a paused trial (64 MiB) |
| `CAVIAR_REQUEUE_SECONDS` | 2 | how often the server returns expired leases to pending |
| `CAVIAR_DB_TIMEOUT_SECONDS` | 4 | the longest a call waits on the database before a 503 |
| `CAVIAR_WORKERS` | 1 | server processes (`caviar serve --workers`) |
| `CAVIAR_POSTGRES_FAST_PATH` | 1 | 0: the portable store on PostgreSQL, not its fast path |
| `CAVIAR_AUTH` | auto | `required`, `off`, or `auto`: tokens required if the database holds one |
| `CAVIAR_RATE_LIMIT` | 50 | calls a second per admin, user or reader token (bursts of twice that) |
| `CAVIAR_WORKER_RATE_LIMIT` | 2000 | calls a second per worker token (a fleet may share one) |
| `CAVIAR_MAX_OPEN_SEARCHES` | 100 | running searches per owner |

`CAVIAR_POSTGRES_FAST_PATH=0` runs PostgreSQL through service.store.lifecycle
instead of service.store.postgres: slower; for diagnosis, and for the tests that
hold the two to the same behaviour.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass

from domain.spec import MAX_TRIALS_LIMIT
from service.db.session import DEFAULT_TIMEOUT_SECONDS


class SettingsError(ValueError):
    """A CAVIAR_* variable with a bad value; the message names it and the rule."""


def _env_flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    text = (env.get(name) or "").strip().lower()
    if text == "":
        return default
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name}: must be 1 or 0 (true or false), got {env.get(name)!r}")


AUTH_MODES = ("auto", "required", "off")


def _env_choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]
                ) -> str:
    text = (env.get(name) or "").strip().lower()
    if text == "":
        return default
    if text not in choices:
        raise SettingsError(f"{name}: must be one of {', '.join(choices)}, got {env.get(name)!r}")
    return text


def _env_number(env: Mapping[str, str], name: str, default: float, kind: type) -> float:
    text = env.get(name)
    if text is None or text.strip() == "":
        return default
    try:
        value = kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise SettingsError(f"{name}: must be {what}, got {text!r}") from None
    if value <= 0:
        raise SettingsError(f"{name}: must be > 0, got {text!r}")
    return value


HEARTBEATS_PER_LEASE = 3
"""A lease lasts at least this many heartbeat intervals: it survives two lost heartbeats."""


def check_heartbeat(heartbeat_seconds: float, lease_seconds: float) -> None:
    """SettingsError unless the heartbeat interval is well below the lease (at most a third)."""
    most = lease_seconds / HEARTBEATS_PER_LEASE
    if heartbeat_seconds > most and not math.isclose(heartbeat_seconds, most):
        raise SettingsError(
            f"CAVIAR_HEARTBEAT_SECONDS ({heartbeat_seconds:g}) must be at most a third of "
            f"CAVIAR_LEASE_SECONDS ({lease_seconds:g}), so that a lease survives two lost "
            f"heartbeats: lower the heartbeat to {most:g} or raise the lease to "
            f"{heartbeat_seconds * HEARTBEATS_PER_LEASE:g}")


@dataclass(frozen=True)
class Settings:
    """What the server needs to know at start; see the module docstring for the variables."""

    database_url: str = "sqlite:///./caviar.db"
    lease_seconds: float = 60.0
    heartbeat_seconds: float = 10.0
    max_trials: int = MAX_TRIALS_LIMIT  # the default the CLI checks specs offline with
    max_body_bytes: int = 1024 * 1024
    max_upload_bytes: int = 100 * 1024 * 1024
    max_checkpoint_bytes: int = 64 * 1024 * 1024
    requeue_seconds: float = 2.0
    db_timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    workers: int = 1
    postgres_fast_path: bool = True
    auth: str = "auto"
    rate_limit: float = 50.0
    worker_rate_limit: float = 2000.0
    max_open_searches: int = 100

    def __post_init__(self) -> None:
        check_heartbeat(self.heartbeat_seconds, self.lease_seconds)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from environment variables; keyword overrides win (None is ignored)."""
        env = os.environ if env is None else env
        values: dict[str, object] = {
            "database_url": env.get("CAVIAR_DATABASE_URL") or cls.database_url,
            "lease_seconds": _env_number(env, "CAVIAR_LEASE_SECONDS", cls.lease_seconds, float),
            "heartbeat_seconds": _env_number(
                env, "CAVIAR_HEARTBEAT_SECONDS", cls.heartbeat_seconds, float
            ),
            "max_trials": _env_number(env, "CAVIAR_MAX_TRIALS", cls.max_trials, int),
            "max_body_bytes": _env_number(env, "CAVIAR_MAX_BODY_BYTES", cls.max_body_bytes, int),
            "max_upload_bytes": _env_number(
                env, "CAVIAR_MAX_UPLOAD_BYTES", cls.max_upload_bytes, int
            ),
            "max_checkpoint_bytes": _env_number(
                env, "CAVIAR_MAX_CHECKPOINT_BYTES", cls.max_checkpoint_bytes, int
            ),
            "requeue_seconds": _env_number(
                env, "CAVIAR_REQUEUE_SECONDS", cls.requeue_seconds, float
            ),
            "db_timeout_seconds": _env_number(
                env, "CAVIAR_DB_TIMEOUT_SECONDS", cls.db_timeout_seconds, float
            ),
            "workers": _env_number(env, "CAVIAR_WORKERS", cls.workers, int),
            "postgres_fast_path": _env_flag(env, "CAVIAR_POSTGRES_FAST_PATH",
                                            cls.postgres_fast_path),
            "auth": _env_choice(env, "CAVIAR_AUTH", cls.auth, AUTH_MODES),
            "rate_limit": _env_number(env, "CAVIAR_RATE_LIMIT", cls.rate_limit, float),
            "worker_rate_limit": _env_number(env, "CAVIAR_WORKER_RATE_LIMIT",
                                             cls.worker_rate_limit, float),
            "max_open_searches": _env_number(env, "CAVIAR_MAX_OPEN_SEARCHES",
                                             cls.max_open_searches, int),
        }
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)  # type: ignore[arg-type]
