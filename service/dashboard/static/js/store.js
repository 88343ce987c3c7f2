// The in-memory copy of one search's trials, merged from `since` polls.

import { TRIAL } from "./states.js";

const isPaused = (trial) => trial.status === TRIAL.PAUSED;

/** Whether a change of a trial changed its values at rungs or what became of them: a rung
 * reached (or forgotten, when it starts again), a pause, a resume. */
function movedAtRung(old, trial) {
  if (!old) return trial.rung !== null || isPaused(trial);
  return old.rung !== trial.rung || isPaused(old) !== isPaused(trial);
}

/**
 * Trials by id, kept current by merging what each poll says changed. `version` counts
 * merges that changed anything, `rungVersion` those that changed a trial at its rungs.
 */
export class TrialStore {
  constructor(goal) {
    this.goal = goal;
    this.byId = new Map();
    this.cursor = 0;
    this.version = 0;
    this.rungVersion = 0;
    this.cache = new Map();
  }

  /** Merge changed trials; returns those newer than what we held. */
  merge(items) {
    const changed = [];
    let rungs = false;
    for (const trial of items) {
      const old = this.byId.get(trial.id);
      if (old && old.seq >= trial.seq) continue;
      rungs ||= movedAtRung(old, trial);
      this.byId.set(trial.id, trial);
      changed.push(trial);
    }
    if (changed.length) {
      this.version += 1;
      this.cache.clear();
    }
    if (rungs) this.rungVersion += 1;
    return changed;
  }

  get(id) {
    return this.byId.get(id);
  }

  /** Is value a better than value b for this search's goal? */
  better(a, b) {
    return this.goal === "minimize" ? a < b : a > b;
  }

  /** Sort key that puts the best value first. */
  rankOf(value) {
    return this.goal === "minimize" ? value : -value;
  }

  memo(key, compute) {
    if (!this.cache.has(key)) this.cache.set(key, compute());
    return this.cache.get(key);
  }

  /** Every trial, by number. */
  all() {
    return this.memo("all", () => [...this.byId.values()].sort((a, b) => a.number - b.number));
  }

  /** Completed trials with a value, by number: what the charts plot. */
  completed() {
    return this.memo(TRIAL.COMPLETED, () =>
      this.all().filter((t) => t.status === TRIAL.COMPLETED && t.value !== null),
    );
  }

  /** Pruned trials with a (partial) value, by number. */
  pruned() {
    return this.memo(TRIAL.PRUNED, () =>
      this.all().filter((t) => t.status === TRIAL.PRUNED && t.value !== null),
    );
  }

  /** Re-tests: trials that re-train another trial's setting with a new seed. */
  retests() {
    return this.memo("retests", () => this.all().filter((t) => t.origin_trial_id !== null));
  }

  running() {
    return this.memo(TRIAL.RUNNING, () => this.all().filter((t) => t.status === TRIAL.RUNNING));
  }

  /** The n best completed trials, best first. */
  top(n) {
    return this.memo(`top${n}`, () => {
      const best = [];
      for (const trial of this.completed()) {
        const key = this.rankOf(trial.value);
        if (best.length < n || key < best[best.length - 1].key) {
          best.push({ key, trial });
          best.sort((a, b) => a.key - b.key);
          if (best.length > n) best.pop();
        }
      }
      return best.map((entry) => entry.trial);
    });
  }

  /** Trials stopped early (pruned, or stopped by the user or the cancel), latest first. */
  stoppedRecently(n) {
    return this.memo(`stopped${n}`, () =>
      [...this.byId.values()]
        .filter((t) => t.stop_reason && t.last_epoch !== null)
        .sort((a, b) => b.seq - a.seq)
        .slice(0, n),
    );
  }
}
