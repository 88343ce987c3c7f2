"""A one-node Slurm cluster on this machine, for the deployment tests.

munged, slurmctld and slurmd run as root from a generated slurm.conf in a
temporary folder: the machine's own host name and CPU count, no cgroups
(proctrack/linuxproc, task/none), no accounting, state and logs in the folder,
free ports, and a munge socket of its own, so that it leaves the machine's
Slurm and munge alone. The client commands (sbatch, squeue, scancel) reach it
through SLURM_CONF.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "scancel", "sinfo")
KILL_WAIT = 30  # seconds between a job's SIGTERM and its SIGKILL (Slurm's KillWait)


def require_slurm() -> None:
    """Fail (not skip) with what is missing: scripts/test installs Slurm and munge."""
    assert os.geteuid() == 0, "the Slurm tests start slurmd, which needs root: run them as root"
    missing = [name for name in DAEMONS + CLIENTS if shutil.which(name) is None]
    assert not missing, (f"{', '.join(missing)} missing: scripts/test installs Debian's "
                         "slurm-wlm and munge (apt-get install slurm-wlm munge)")


def two_free_ports() -> tuple[int, int]:
    """Two different TCP ports on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as first, socket.socket() as second:
        first.bind(("127.0.0.1", 0))
        second.bind(("127.0.0.1", 0))
        return first.getsockname()[1], second.getsockname()[1]


def slurm_conf(folder: Path, munge_socket: Path, host: str, cpus: int) -> str:
    """slurm.conf of a one-node cluster whose state, logs and pid files are in `folder`."""
    slurmctld_port, slurmd_port = two_free_ports()
    return f"""\
ClusterName=caviar-test
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={slurmctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={munge_socket}
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
SchedulerParameters=batch_sched_delay=0
MpiDefault=none
ReturnToService=2
KillWait={KILL_WAIT}
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN
PartitionName=test Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


@dataclass
class SlurmCluster:
    """A running one-node cluster: its folder, slurm.conf, and daemons."""

    folder: Path
    conf: Path
    cpus: int
    daemons: list[subprocess.Popen] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        """This process's environment, with the client commands pointed at this cluster."""
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def command(self, *args: str, env: dict[str, str] | None = None) -> str:
        """Run a Slurm client command against this cluster; its output, or fail with it."""
        done = subprocess.run(args, capture_output=True, text=True, timeout=30,
                              env={**self.env, **(env or {})})
        assert done.returncode == 0, f"{' '.join(args)}: {done.stderr}{done.stdout}"
        return done.stdout

    def sbatch(self, script: Path, *args: str, options: Sequence[str] = (),
               env: dict[str, str] | None = None) -> int:
        """Submit `script ARGS` with sbatch's `options`; return the job id."""
        out = self.command("sbatch", "--parsable", *options, str(script), *args, env=env)
        return int(out.strip().split(";")[0])

    def tasks(self, job_id: int) -> dict[str, str]:
        """The states of the job's array tasks that Slurm still lists, by `JOBID_TASK`."""
        out = self.command("squeue", "--noheader", "--array", "--jobs", str(job_id),
                           "--states", "all", "--format", "%i %T")
        return dict(line.split() for line in out.splitlines() if line.strip())

    def active(self, job_id: int) -> dict[str, str]:
        """The job's array tasks that are pending, running or still ending."""
        return {task: state for task, state in self.tasks(job_id).items()
                if state in ("PENDING", "CONFIGURING", "RUNNING", "COMPLETING")}

    def cancel_all(self) -> None:
        """Cancel every job and wait until their processes are gone (at worst, KillWait)."""
        subprocess.run(["scancel", "--user", "root"], env=self.env, timeout=30,
                       capture_output=True)
        deadline = time.monotonic() + KILL_WAIT + 15
        while time.monotonic() < deadline:
            listed = subprocess.run(["squeue", "--noheader", "--format", "%i"], env=self.env,
                                    capture_output=True, text=True, timeout=30)
            if listed.returncode != 0 or not listed.stdout.strip():
                return
            time.sleep(0.2)

    def log(self, name: str) -> str:
        """A daemon's log (`slurmctld`, `slurmd`, `munged`)."""
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _start(command: list[str], log: Path) -> subprocess.Popen:
    """Start a daemon in the foreground, in its own process group."""
    return subprocess.Popen(command, stdout=log.open("a"), stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, process_group=0)


def _stop(process: subprocess.Popen) -> None:
    """Stop a daemon's process group: SIGTERM, then SIGKILL after 10 s."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _kill_leftovers(conf: Path) -> None:
    """SIGKILL whatever still runs with this cluster's SLURM_CONF in its environment (its
    slurmstepd processes and their jobs), in case a job outlived the cancel."""
    mark = f"SLURM_CONF={conf}".encode()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if mark in (proc / "environ").read_bytes().split(b"\0"):
                os.kill(int(proc.name), signal.SIGKILL)
        except (OSError, ValueError):
            continue  # gone meanwhile, or not ours to read


def _wait_ready(cluster: SlurmCluster, timeout: float = 30) -> None:
    """Wait until the node is idle; fail with the daemons' logs if it never is."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for daemon in cluster.daemons:
            assert daemon.poll() is None, (
                f"{daemon.args[0]} exited with {daemon.returncode}:\n"
                f"{cluster.log('munged')}{cluster.log('slurmctld')}{cluster.log('slurmd')}")
        state = subprocess.run(["sinfo", "--noheader", "--format", "%T"], env=cluster.env,
                               capture_output=True, text=True, timeout=30)
        if state.stdout.strip() == "idle":
            return
        time.sleep(0.2)
    raise AssertionError(f"the Slurm node is not idle after {timeout:.0f} s:\n"
                         f"{cluster.log('slurmctld')}{cluster.log('slurmd')}")


def _munge(folder: Path) -> tuple[list[str], Path]:
    """munged's command line with a fresh key and its own socket; and the socket."""
    key = folder / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    sock = folder / "munge.socket"
    return ["munged", "--foreground", "--force", f"--socket={sock}", f"--key-file={key}",
            f"--pid-file={folder / 'munged.pid'}", f"--log-file={folder / 'munged.log'}",
            f"--seed-file={folder / 'munged.seed'}"], sock


def _wait_for_socket(path: Path, munged: subprocess.Popen, out: Path,
                     timeout: float = 10) -> None:
    """Wait for munged's socket; fail with its output if it does not come."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert munged.poll() is None and time.monotonic() < deadline, (
            f"munged did not start:\n{out.read_text(errors='replace')}")
        time.sleep(0.05)


@contextmanager
def slurm_cluster() -> Iterator[SlurmCluster]:
    """munged, slurmctld and slurmd for the duration of the block; every job is cancelled
    and every daemon stopped at its end, whatever happens inside."""
    require_slurm()
    # A short path of its own: the munge socket's path must fit a Unix socket address.
    folder = Path(tempfile.mkdtemp(prefix="caviar-slurm-"))
    host = socket.gethostname().split(".")[0]
    cluster = SlurmCluster(folder, folder / "slurm.conf", os.cpu_count() or 1)
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, folder, ignore_errors=True)
        stack.callback(_kill_leftovers, cluster.conf)

        def start(name: str, command: list[str]) -> subprocess.Popen:
            daemon = _start(command, folder / f"{name}.out")
            cluster.daemons.append(daemon)
            stack.callback(_stop, daemon)
            return daemon

        for sub in ("state", "spool"):
            (folder / sub).mkdir()
        munged, munge_socket = _munge(folder)
        _wait_for_socket(munge_socket, start("munged", munged), folder / "munged.out")
        cluster.conf.write_text(slurm_conf(folder, munge_socket, host, cluster.cpus))
        start("slurmctld", ["slurmctld", "-D", "-i", "-f", str(cluster.conf)])
        start("slurmd", ["slurmd", "-D", "-N", host, "-f", str(cluster.conf)])
        stack.callback(cluster.cancel_all)
        _wait_ready(cluster)
        yield cluster
