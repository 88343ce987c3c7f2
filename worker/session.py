"""One claimed trial's conversation with the server while it trains.

Training runs in the caller's thread and never waits on the server: `on_epoch`
only queues the epoch (no cap). A background thread sends everything queued in
one batched report whenever it is free (so a slow server gets fewer, larger
requests), heartbeats when nothing extended the lease for `heartbeat_interval`
seconds, and gives the trial back at once (`fail` with retry) when the worker is
shutting down. The engine's `on_epoch` callback returns False as soon as the
server said stop (or pause: ASHA with resume), the lease was lost (409), or the
trial was given back: at most one round trip and one epoch after the server
decided. When training ends, the trial's outcome (complete, fail, or the
checkpoint of a trial told to pause) is handed to `settle`: the thread sends it
after the last reports while the worker goes on to its next trial.

The thread needs the GIL while the engine trains, and would not get it by
itself: NumPy lets go of the GIL and takes it back around every BLAS call, and
CPython forces a switch only when the GIL has not changed hands for its switch
interval, so a waiting thread can wait out a whole epoch of small steps (a lost
lease). The engine's per-step callback `on_batch` therefore sleeps `YIELD_FOR`
seconds every `YIELD_EVERY` seconds of training, and the thread runs then.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from functools import partial

from domain.protocol import Action, Assignment
from worker.client import (
    ApiError,
    CaviarClient,
    ClientError,
    LeaseLost,
    RetryPolicy,
    ServerUnavailable,
    UnexpectedAnswer,
)
from worker.nn.train import EpochReport

SHUTDOWN_ERROR = "worker shutting down"
MAX_BATCH = 1000  # epochs per report request: the server's limit
GIVE_BACK_RETRY = RetryPolicy(attempts=3, base=0.1, cap=1.0)
YIELD_EVERY = 0.05  # seconds of training between two chances for the thread to run
YIELD_FOR = 0.0002  # seconds of each: time enough for a waiting thread to take the GIL


class TrialSession:
    """Reports, heartbeats and the stop/lost/given-back state of one trial."""

    def __init__(self, client: CaviarClient, assignment: Assignment, log: logging.Logger,
                 shutting_down: Callable[[], bool], verbose: bool = False,
                 tick: float = 0.05) -> None:
        self.client = client
        self.assignment = assignment
        self.log = log
        self.verbose = verbose
        self._shutting_down = shutting_down
        self._tick = tick
        self._reports: queue.Queue[EpochReport] = queue.Queue()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="caviar-lease", daemon=True)
        self._last_contact = time.monotonic()
        self._yield_at = self._last_contact + YIELD_EVERY
        self.stop_reason: str | None = None
        self.pause = False
        self._decide_at = frozenset(assignment.decide_at)
        self._answered = threading.Condition()
        self._answered_through = -1  # the last epoch whose report the server answered
        self.lost = False
        self.given_back = False
        self.last_report: EpochReport | None = None
        self._outcome: Callable[[], object] | None = None

    @property
    def ended(self) -> bool:
        """True once the trial must not train on: stop, lease lost, or given back."""
        return self.stop_reason is not None or self.lost or self.given_back

    @property
    def last_epoch(self) -> int:
        """The last epoch the engine finished (-1 before the first)."""
        return self.last_report.epoch if self.last_report else -1

    def start(self) -> None:
        self._thread.start()

    def on_batch(self) -> None:
        """The engine's per-step callback: every YIELD_EVERY seconds, let the thread run."""
        now = time.monotonic()
        if now >= self._yield_at:
            time.sleep(YIELD_FOR)
            self._yield_at = now + YIELD_EVERY

    def on_epoch(self, report: EpochReport) -> bool:
        """The engine's callback: queue the report, say whether to go on. It blocks only at
        the epochs where the server decides (`decide_at`: ASHA rungs), until the verdict."""
        self.last_report = report
        if self.verbose:
            self.log.info("trial %d epoch %d: dev_accuracy %.4f dev_loss %.4f train_loss %.4f",
                          self.assignment.trial_id, report.epoch, report.dev_accuracy,
                          report.dev_loss, report.train_loss)
        if not (self.lost or self.given_back):
            self._reports.put(report)
            if report.epoch + 1 in self._decide_at:
                self._await_answer(report.epoch)
        return not (self.ended or self._shutting_down())

    def _await_answer(self, epoch: int) -> None:
        """Wait until the report of `epoch` is answered, or the trial is gone."""
        with self._answered:
            while (self._answered_through < epoch and not self.ended
                   and not self._shutting_down()):
                self._answered.wait(self._tick)

    def _answered_until(self, epoch: int) -> None:
        """The reports up to `epoch` were answered (or dropped): wake a waiting on_epoch."""
        with self._answered:
            self._answered_through = max(self._answered_through, epoch)
            self._answered.notify_all()

    def close(self, give_back: bool = False) -> None:
        """Send what is queued (unless the trial is gone), stop the thread; give it back if asked.

        `give_back` is for a run the shutdown interrupted before the thread gave it back.
        """
        self._closing.set()
        self._thread.join()
        if give_back and not (self.given_back or self.lost):
            self._give_back()

    def settle(self, outcome: Callable[[], object]) -> None:
        """Send what is queued, then call `outcome` (complete or fail), in the background.

        Returns at once; `outcome` is skipped if the lease was lost meanwhile.
        """
        self._outcome = outcome
        self._closing.set()

    def wait(self) -> None:
        """Block until the thread is done (reports and outcome sent, or the trial gone)."""
        self._thread.join()

    def _run(self) -> None:
        self._send_reports()
        if self._outcome is not None and not (self.lost or self.given_back):
            try:
                self._outcome()
            except Exception:  # a bug here must not pass silently, nor stop the worker
                self.log.exception("trial %d: its result was not delivered; it is requeued "
                                   "when its lease expires", self.assignment.trial_id)

    def _send_reports(self) -> None:
        batch: list[EpochReport] = []
        while True:
            if self._shutting_down() and not self._closing.is_set():
                self._give_back()
                return
            if self.lost:
                return
            if not batch:
                try:
                    batch.append(self._reports.get(timeout=self._tick))
                except queue.Empty:
                    if self._closing.is_set():
                        return
                    if time.monotonic() - self._last_contact >= self.assignment.heartbeat_interval:
                        self._call(self._heartbeat)
                    continue
            batch.extend(self._queued(MAX_BATCH - len(batch)))
            if self._call(partial(self._report, batch)):
                self._answered_until(batch[-1].epoch)
                batch = []
            elif self._closing.is_set() and self._shutting_down():
                return

    def _queued(self, limit: int) -> list[EpochReport]:
        """Up to `limit` reports already queued, without waiting."""
        taken: list[EpochReport] = []
        while len(taken) < limit:
            try:
                taken.append(self._reports.get_nowait())
            except queue.Empty:
                break
        return taken

    def _heartbeat(self) -> Action:
        a = self.assignment
        return self.client.heartbeat(a.trial_id, a.lease_token)

    def _report(self, batch: list[EpochReport]) -> Action:
        a = self.assignment
        return self.client.report_epochs(a.trial_id, a.lease_token,
                                         [(report.epoch, report.as_dict()) for report in batch])

    def _call(self, send: Callable[[], Action]) -> bool:
        """Send a report or heartbeat; False when the server was unavailable (try again)."""
        try:
            action = send()
        except LeaseLost as error:
            self.lost = True
            self.log.warning("trial %d: lease lost (%s); dropping it",
                             self.assignment.trial_id, error.detail)
            return True
        except (ApiError, UnexpectedAnswer) as error:
            self.log.warning("trial %d: %s", self.assignment.trial_id, error)
            return True
        except ServerUnavailable as error:
            self.log.warning("trial %d: server unavailable, retrying: %s",
                             self.assignment.trial_id, error)
            return False
        self._last_contact = time.monotonic()
        if action.stop and self.stop_reason is None:
            self.stop_reason = action.reason or "stopped by the server"
            self.pause = action.pause
        return True

    def _give_back(self) -> None:
        a = self.assignment
        try:
            self.client.fail(a.trial_id, a.lease_token, SHUTDOWN_ERROR, retry_trial=True,
                             retry=GIVE_BACK_RETRY)
        except ClientError as error:
            self.log.warning("trial %d: could not give it back (%s); it is requeued when its "
                             "lease expires", a.trial_id, error)
        self.given_back = True
