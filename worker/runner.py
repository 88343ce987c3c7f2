"""One worker process's loop: claim a trial, load its data, train it, report, complete; repeat.

- Reports and heartbeats go through a `TrialSession` while the engine trains; its
  per-step callback lets the session's thread have the GIL.
- The outcome (complete or fail) is sent by the session's thread after the last
  reports, while this loop already claims and trains the next trial; the loop
  waits for it only before exiting or when a claim finds no work.
- A finished result is retried until the server accepts it or answers that the
  lease is gone (409), so a server restart does not lose it.
- A diverged or crashing run is reported with `fail` and the reason; the loop goes on.
- A trial told to pause (ASHA with resume) sends its checkpoint instead of completing;
  a promoted trial comes with the checkpoint it resumes from, downloaded and checked
  before training goes on. A checkpoint that cannot be used gives the trial back, to
  start again from its first epoch.
- `request_shutdown()` (from SIGTERM/SIGINT, or a pool's SIGUSR1) stops claiming and gives
  the running trial back at once, so the server requeues it without waiting for its lease.
- The runner measures where its time goes: training, or everything else of a
  trial (claiming, loading data, reporting, completing), and idle waiting for work.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from domain.protocol import Assignment
from domain.training import ConfigError, TrainingConfig
from worker.cache import DataCache
from worker.client import ApiError, CaviarClient, LeaseLost, ServerUnavailable, UnexpectedAnswer
from worker.datasets import DatasetError, Split
from worker.nn.checkpoint import Checkpoint, CheckpointError
from worker.nn.train import TrainResult, TrainStatus, train
from worker.session import TrialSession


@dataclass
class TimeSplit:
    """Where a worker's seconds go.

    `training`: inside the engine. `data`: loading and splitting datasets (once per
    dataset and process; includes a download). `overhead`: the rest of each trial's
    wall time (the claim, and any wait for the server's answers outside training),
    plus waits for a previous trial's outcome to be delivered: HTTP and the server's
    database. Outcomes delivered while the next trial trains cost no wall time.
    `idle`: waiting for work, or for an unavailable server.
    """

    training: float = 0.0
    data: float = 0.0
    overhead: float = 0.0
    idle: float = 0.0
    trials: int = 0

    @property
    def training_fraction(self) -> float:
        """Training over training plus overhead: the share not spent waiting on the server."""
        busy = self.training + self.overhead
        return self.training / busy if busy else 0.0

    def as_json(self) -> str:
        return json.dumps({**asdict(self), "training_fraction": self.training_fraction})


@dataclass(frozen=True)
class RunnerOptions:
    """What `caviar worker` passes to each process."""

    worker_id: str
    search_id: int | None = None
    max_trials: int | None = None
    idle_exit: float | None = None
    verbose: bool = False
    poll_seconds: float = 0.5
    parent_pid: int | None = None


class Runner:
    """The claim → train → complete loop of one worker process."""

    def __init__(self, client: CaviarClient, options: RunnerOptions,
                 cache: DataCache | None = None, log: logging.Logger | None = None) -> None:
        self.client = client
        self.options = options
        self.cache = cache or DataCache(client)
        self.log = log or logging.getLogger("caviar.worker")
        self.times = TimeSplit()
        self._shutdown = False
        self._settling: TrialSession | None = None

    def request_shutdown(self) -> None:
        """Stop claiming; give the running trial back. Safe to call from a signal handler."""
        self._shutdown = True

    def shutting_down(self) -> bool:
        """True after request_shutdown(), or once the parent pool process is gone."""
        parent = self.options.parent_pid
        return self._shutdown or (parent is not None and os.getppid() != parent)

    def run(self) -> int:
        """Loop until shutdown, --max-trials or --idle-exit; return the exit code: 0, or 1
        when the server refuses the worker's token (401 or 403).

        --idle-exit counts the time the server answered that it had no work: time it was
        unavailable does not count, so a fleet outlives a restart of its server or database."""
        self.log.info("worker %s pulling from %s", self.options.worker_id, self.client.base_url)
        idle_since = time.monotonic()
        unavailable = 0
        while not self.shutting_down():
            if self.options.max_trials is not None and self.times.trials >= self.options.max_trials:
                break
            started = time.monotonic()
            try:
                assignment = self.client.claim(self.options.worker_id, self.options.search_id)
            except ServerUnavailable as error:
                if unavailable == 0:
                    self.log.warning("server unavailable, retrying: %s", error)
                unavailable += 1
                self._idle(min(5.0, 0.5 * unavailable), started)
                idle_since += time.monotonic() - started  # an outage is not "no work"
            except ApiError as error:
                if error.status in (401, 403):
                    self.log.error("the server refused this worker's token, stopping: %s "
                                   "(set CAVIAR_TOKEN to a token of role worker)", error)
                    return 1
                self.log.error("claim failed: %s", error)
                self._idle(5.0, started)
            except UnexpectedAnswer as error:
                self.log.error("claim failed: %s", error)
                self._idle(5.0, started)
            else:
                if unavailable:
                    self.log.info("server answering again")
                unavailable = 0
                if assignment is None and self._wait_settled_between_trials():
                    continue  # the previous trial's outcome may have freed a slot: ask again
                if assignment is None:
                    self._idle(self.options.poll_seconds, started)
                else:
                    self._run_trial(assignment, started)
                    idle_since = time.monotonic()
                    continue
            idle_exit = self.options.idle_exit
            if idle_exit is not None and time.monotonic() - idle_since >= idle_exit:
                self.log.info("no work for %.0f s; exiting", idle_exit)
                break
        self._wait_settled_between_trials()
        self.log.info("stats: %s", self.times.as_json())
        return 0

    def _idle(self, seconds: float, started: float) -> None:
        """Wait for work, waking early on shutdown."""
        deadline = started + seconds
        while not self.shutting_down() and time.monotonic() < deadline:
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        self.times.idle += time.monotonic() - started

    def _wait_settled(self) -> bool:
        """Wait for the previous trial's outcome to be sent; True if there was one."""
        session, self._settling = self._settling, None
        if session is None:
            return False
        session.wait()
        return True

    def _wait_settled_between_trials(self) -> bool:
        """`_wait_settled`, counting the wait as overhead (it is waiting on the server)."""
        started = time.monotonic()
        waited = self._wait_settled()
        self.times.overhead += time.monotonic() - started
        return waited

    def _run_trial(self, a: Assignment, claimed_at: float) -> None:
        self.times.trials += 1
        self.log.info("trial %d (search %d #%d, attempt %d) claimed", a.trial_id, a.search_id,
                      a.number, a.attempt)
        if a.resume is not None:
            self.log.info("trial %d resumes from its checkpoint after %d epochs", a.trial_id,
                          a.resume.epoch)
        loading = time.monotonic()
        try:
            config = TrainingConfig.from_dict(a.params)
            data = self.cache.split(a.dataset, a.split)
            resume = self._resume_from(a)
        except (ConfigError, DatasetError) as error:
            self._fail(a, f"{type(error).__name__}: {error}")
            self.times.overhead += time.monotonic() - claimed_at
            return
        except CheckpointError as error:
            self.log.warning("trial %d: its checkpoint cannot be used (%s); giving it back to "
                             "start again", a.trial_id, error)
            reason = f"checkpoint unusable: {error}"
            self._deliver(a, lambda: self.client.fail(a.trial_id, a.lease_token, reason,
                                                      retry_trial=True))
            self.times.overhead += time.monotonic() - claimed_at
            return
        except ServerUnavailable as error:
            self.log.warning("trial %d dropped: cannot load its data (%s)", a.trial_id, error)
            self.times.overhead += time.monotonic() - claimed_at
            return
        data_seconds = time.monotonic() - loading
        training = self._train_and_finish(a, config, data, resume)
        self.times.data += data_seconds
        self.times.training += training
        self.times.overhead += time.monotonic() - claimed_at - data_seconds - training

    def _resume_from(self, a: Assignment) -> Checkpoint | None:
        """The checkpoint a promoted trial goes on from (None for a trial from its start);
        CheckpointError if it cannot be used."""
        if a.resume is None:
            return None
        try:
            data = self.client.download_checkpoint(a.resume.url, a.lease_token, a.resume.sha256)
        except UnexpectedAnswer as error:
            raise CheckpointError(str(error)) from None
        return Checkpoint.from_bytes(data)

    def _train_and_finish(self, a: Assignment, config: TrainingConfig, data: Split,
                          resume: Checkpoint | None) -> float:
        """Train the trial and settle it with the server; return the seconds spent training."""
        session = TrialSession(self.client, a, self.log, self.shutting_down, self.options.verbose)
        session.start()
        began = time.monotonic()
        result: TrainResult | None = None
        crash: Exception | None = None
        try:
            result = train(config, data.X_train, data.y_train, data.X_dev, data.y_dev,
                           on_epoch=session.on_epoch, on_batch=session.on_batch, resume=resume)
        except Exception as error:  # a crashing run is reported, and the worker goes on
            crash = error
        training = time.monotonic() - began
        interrupted = (result is not None and result.status == TrainStatus.STOPPED
                       and session.stop_reason is None and self.shutting_down())
        if interrupted or session.given_back or session.lost:
            session.close(give_back=interrupted)
            if session.given_back:
                self.log.info("trial %d given back: worker shutting down", a.trial_id)
            else:
                self.log.info("trial %d dropped: lease lost", a.trial_id)
            return training
        self._wait_settled()
        if crash is not None:
            reason = f"{type(crash).__name__}: {crash} (epoch {session.last_epoch + 1})"
            session.settle(lambda: self._fail(a, reason))
        elif result is not None and result.status == TrainStatus.DIVERGED:
            reason = result.error or f"diverged (epoch {session.last_epoch})"
            session.settle(lambda: self._fail(a, reason))
        elif result is not None and session.pause and result.status == TrainStatus.STOPPED:
            session.settle(lambda: self._pause(a, result, session))
        elif result is not None:
            session.settle(lambda: self._complete(a, result, session))
        self._settling = session
        return training

    def _complete(self, a: Assignment, result: TrainResult, session: TrialSession) -> None:
        metrics = result.metrics()
        if session.last_report is not None:
            metrics.setdefault("train_loss", session.last_report.train_loss)
        try:
            trial = self._deliver(a, lambda: self.client.complete(a.trial_id, a.lease_token,
                                                                  metrics))
        except ApiError as error:
            self._fail(a, f"result refused: {error}")
            return
        if trial is None:
            return
        metric = a.objective.get("metric", "dev_accuracy")
        how = f" ({session.stop_reason})" if session.stop_reason else ""
        self.log.info("trial %d finished%s: %s %.4f after %d epochs in %.1f s -> %s",
                      a.trial_id, how, metric, metrics.get(metric, float("nan")),
                      result.epochs, result.seconds, trial.get("status", "?"))

    def _pause(self, a: Assignment, result: TrainResult, session: TrialSession) -> None:
        """Send the checkpoint of a trial told to pause. If the server refuses it (over its
        size limit), the trial completes with what it reached: pruned, as without resume."""
        data = result.checkpoint().to_bytes()
        try:
            trial = self._deliver(a, lambda: self.client.upload_checkpoint(
                a.trial_id, a.lease_token, result.epochs, data))
        except ApiError as error:
            self.log.warning("trial %d: its checkpoint was refused (%s); it ends where it "
                             "stopped", a.trial_id, error)
            self._complete(a, result, session)
            return
        if trial is not None:
            self.log.info("trial %d paused after %d epochs (checkpoint of %d bytes)",
                          a.trial_id, result.epochs, len(data))

    def _fail(self, a: Assignment, reason: str) -> None:
        self.log.warning("trial %d failed: %s", a.trial_id, reason)
        try:
            self._deliver(a, lambda: self.client.fail(a.trial_id, a.lease_token, reason))
        except ApiError as error:
            self.log.warning("trial %d: the failure was refused: %s", a.trial_id, error)

    def _deliver(self, a: Assignment, send: Callable[[], dict[str, Any]]
                 ) -> dict[str, Any] | None:
        """Send a trial's outcome until the server takes it (its Trial) or the lease is gone.

        A server restart must not lose a result: an unreachable server is retried
        for as long as it takes, unless the worker is shutting down.
        """
        waited = 0
        while True:
            try:
                return send()
            except LeaseLost as error:
                self.log.warning("trial %d outcome refused, lease lost: %s", a.trial_id,
                                 error.detail)
                return None
            except ServerUnavailable as error:
                if self._shutdown:
                    self.log.warning("trial %d outcome not delivered before shutdown: %s",
                                     a.trial_id, error)
                    return None
                waited += 1
                self.log.warning("trial %d outcome not delivered yet, retrying: %s",
                                 a.trial_id, error)
                time.sleep(min(5.0, 0.5 * waited))
