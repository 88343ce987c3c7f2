"""What the fault tests need of the machine: root, and the commands they run.

A missing piece fails the test with what to install or how to run it (never a skip: a
fault test that quietly does not run guards nothing). scripts/test installs the packages.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest


def require_root(why: str) -> None:
    """Fail the test unless it runs as root; `why` says what needs it."""
    if os.geteuid() != 0:
        pytest.fail(f"this test must run as root: {why} (run scripts/test as root or with "
                    "sudo)", pytrace=False)


def require_commands(commands: dict[str, str]) -> None:
    """Fail the test unless every command is on PATH; `commands` maps each to its Debian
    package."""
    missing = {command: package for command, package in commands.items()
               if shutil.which(command) is None}
    if missing:
        names = ", ".join(sorted(missing))
        packages = " ".join(sorted(set(missing.values())))
        pytest.fail(f"missing commands: {names}; install them with `apt-get install -y "
                    f"{packages}` (scripts/test does)", pytrace=False)


def run(*argv: str) -> str:
    """Run a command; its stdout, or RuntimeError with the command and its stderr."""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise RuntimeError(f"`{' '.join(argv)}` exited with {done.returncode}: "
                           f"{done.stderr.strip()}")
    return done.stdout
