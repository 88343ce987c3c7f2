"""CPU time of processes from /proc (Linux): a server and its workers, PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path


def _cpu_of(stat: str) -> float:
    """User + system CPU seconds from a /proc/PID/stat line."""
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _processes() -> Iterator[tuple[int, str, str]]:
    """(pid, command name, /proc/PID/stat line) of every process (Linux)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # it exited meanwhile
                continue
            name = stat[stat.index("(") + 1:stat.rindex(")")]
            yield int(entry.name), name, stat


def process_tree_cpu(pid: int) -> float:
    """CPU seconds used so far by a process and its children (the server's workers)."""
    total = 0.0
    for other, _, stat in _processes():
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if other == pid or parent == pid:
            total += _cpu_of(stat)
    return total


def postgres_cpu() -> float:
    """CPU seconds used so far by the running PostgreSQL processes (its backends included)."""
    return sum(_cpu_of(stat) for _, name, stat in _processes() if name.startswith("postgres"))


def pid_cpu(pid: int) -> float | None:
    """CPU seconds used so far by one process; None once it has exited."""
    try:
        return _cpu_of(Path(f"/proc/{pid}/stat").read_text())
    except OSError:
        return None


def run_queue_wait(pids: list[int]) -> float:
    """Seconds the processes' threads have spent runnable but waiting for a CPU (from
    /proc/PID/task/TID/schedstat): time a busy machine took from them."""
    total = 0
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").glob("*/schedstat"):
            try:
                total += int(task.read_text().split()[1])
            except (OSError, IndexError, ValueError):
                continue
    return total / 1e9


def process_tree(pid: int) -> list[int]:
    """A process and its children (a server and its worker processes)."""
    return [other for other, _, stat in _processes()
            if other == pid or int(stat.rsplit(")", 1)[1].split()[1]) == pid]
