// The states of trials and searches, as the server stores and sends them: the one copy of
// domain/lifecycle/states.py on this side (tests/dashboard/test_static_files.py checks that
// the two agree). Every other module names a state through these constants.

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
