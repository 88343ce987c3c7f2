"""The states of trials and searches, and why a trial stops: the one definition of each.

The values are the strings stored in the tables and shown in the API's JSON
(`StrEnum`: a member is its string), so stored data and clients never see the
enums themselves. Everything else (the store, the API, the CLI) names a state
through these members; the dashboard mirrors them in one constants file,
checked against this module by a test.
"""

from __future__ import annotations

from enum import StrEnum


class TrialStatus(StrEnum):
    """Where a trial is in its life (DESIGN.md, "Resources and states")."""

    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    """Stopped at an ASHA rung with its checkpoint stored; it may be resumed later."""
    COMPLETED = "completed"
    FAILED = "failed"
    PRUNED = "pruned"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        """True for the states a trial never leaves."""
        return self in TERMINAL


TERMINAL: frozenset[TrialStatus] = frozenset({
    TrialStatus.COMPLETED, TrialStatus.FAILED, TrialStatus.PRUNED, TrialStatus.CANCELLED,
})
"""The states a trial ends in: it never leaves them."""

LIVE: frozenset[TrialStatus] = frozenset({TrialStatus.PENDING, TrialStatus.RUNNING,
                                          TrialStatus.PAUSED})
"""The states of a trial not yet ended: waiting for a worker, training, or paused."""


class SearchStatus(StrEnum):
    """A search runs until its budget is spent and nothing is in flight, or it is cancelled."""

    RUNNING = "running"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class StopCause(StrEnum):
    """Why a trial stopped short of finishing on its own, stored beside the trial.

    A trial's final state is decided from its cause (`final_status`), never
    from the text shown to people (`reason`).
    """

    USER = "user"
    """A user asked the running trial to stop; what it reached so far is its result. One
    whose worker was lost before it reached any result ends cancelled instead
    (domain.lifecycle.transitions.release)."""
    SEARCH_CANCELLED = "search_cancelled"
    """Its search was cancelled while it ran."""
    MEDIAN_RULE = "median_rule"
    """The median early-stopping rule judged it worse than the completed trials."""
    ASHA_RULE = "asha_rule"
    """ASHA found it below the top 1/eta of a rung."""
    HYPERBAND_RULE = "hyperband_rule"
    """Hyperband found it below the top 1/eta of a rung of its bracket."""
    PAUSE = "asha_pause"
    """ASHA with resume found it below its rung's top: its worker is to store a checkpoint
    and let it pause. It is not an end: a trial paused is not stopped. One that completes
    instead (its checkpoint was refused) ends pruned, as without resume, unless it ran its
    last epoch before it heard (domain.lifecycle.transitions.final_status)."""
    BUDGET_SPENT = "budget_spent"
    """It was paused when the search's budget was spent, and can no longer be resumed."""
    WORKER_ERROR = "worker_error"
    """Its worker reported a failure it would not retry (a diverged or crashed run)."""
    ATTEMPTS_EXHAUSTED = "attempts_exhausted"
    """It lost its lease, or was given back, on its last allowed attempt."""

    @property
    def final_status(self) -> TrialStatus:
        """The state a trial with this cause ends in."""
        return _FINAL_STATUS[self]

    @property
    def reason(self) -> str | None:
        """What the trial's worker is told (`stop_reason`); None for causes that end the
        trial without telling a worker."""
        return _REASONS.get(self)

    @classmethod
    def of_rule(cls, kind: str) -> StopCause:
        """The cause of a stop by the early-stopping rule of this `kind` (spec)."""
        try:
            return _RULES[kind]
        except KeyError:
            raise ValueError(f"early-stopping rule {kind!r} stops no trial") from None


_FINAL_STATUS = {
    StopCause.USER: TrialStatus.COMPLETED,
    StopCause.SEARCH_CANCELLED: TrialStatus.CANCELLED,
    StopCause.MEDIAN_RULE: TrialStatus.PRUNED,
    StopCause.ASHA_RULE: TrialStatus.PRUNED,
    StopCause.HYPERBAND_RULE: TrialStatus.PRUNED,
    StopCause.PAUSE: TrialStatus.PRUNED,
    StopCause.BUDGET_SPENT: TrialStatus.PRUNED,
    StopCause.WORKER_ERROR: TrialStatus.FAILED,
    StopCause.ATTEMPTS_EXHAUSTED: TrialStatus.FAILED,
}
_REASONS = {
    StopCause.USER: "stopped by user",
    StopCause.SEARCH_CANCELLED: "search cancelled",
    StopCause.MEDIAN_RULE: "pruned by median rule",
    StopCause.ASHA_RULE: "pruned by asha",
    StopCause.HYPERBAND_RULE: "pruned by hyperband",
    StopCause.PAUSE: "paused by asha: send a checkpoint",
}
_RULES = {"median": StopCause.MEDIAN_RULE, "asha": StopCause.ASHA_RULE,
          "hyperband": StopCause.HYPERBAND_RULE}
