"""API tokens made on a database before its server starts, as an operator makes the first."""

from __future__ import annotations

import os
import subprocess
import sys


def create_token(database_url: str, role: str, name: str) -> str:
    """A new token of `role` made with `caviar token create --database-url`; the token."""
    env = {key: value for key, value in os.environ.items() if key != "CAVIAR_TOKEN"}
    made = subprocess.run(
        [sys.executable, "-m", "caviar", "token", "create", "--role", role, "--name", name,
         "--database-url", database_url],
        capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)
    if made.returncode != 0:
        raise RuntimeError(f"caviar token create --role {role} failed: {made.stderr.strip()}")
    return made.stdout.strip()
