// The states of trials and searches, and what became of a trial at a rung, as the server
// stores and sends them: the one copy of domain/lifecycle/states.py and of the rungs'
// Outcome on this side (tests/dashboard/test_static_files.py checks that they agree).
// Every other module names a state through these constants.

export const TRIAL = Object.freeze({
  PENDING: "pending",
  RUNNING: "running",
  PAUSED: "paused",
  COMPLETED: "completed",
  FAILED: "failed",
  PRUNED: "pruned",
  CANCELLED: "cancelled",
});

/** Every trial state, in the server's order. */
export const TRIAL_STATES = Object.freeze(Object.values(TRIAL));

/** The states a trial ends in. */
export const TERMINAL = Object.freeze([TRIAL.COMPLETED, TRIAL.FAILED, TRIAL.PRUNED, TRIAL.CANCELLED]);

export const SEARCH = Object.freeze({
  RUNNING: "running",
  COMPLETED: "completed",
  CANCELLED: "cancelled",
});

/**
 * What became of a trial at a rung (service/search/rungs.py, Outcome): it went on at once,
 * stopped there, paused there with its checkpoint, or paused and was later resumed.
 */
export const OUTCOME = Object.freeze({
  CONTINUED: "continued",
  STOPPED: "stopped",
  PAUSED: TRIAL.PAUSED,
  RESUMED: "resumed",
});
