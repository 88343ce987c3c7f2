// Run an async step every few seconds, one at a time, until stopped.

/**
 * Calls `step()` now and then `intervalMs` after each call settles. The step
 * returns false to end the polling (for example when a search has ended).
 * Errors go to `onError` (not once stopped) and polling goes on: the server may be
 * restarting.
 */
export class Poller {
  constructor(step, intervalMs, onError) {
    this.step = step;
    this.intervalMs = intervalMs;
    this.onError = onError;
    this.timer = null;
    this.stopped = false;
  }

  start() {
    this.run();
    return this;
  }

  async run() {
    if (this.stopped) return;
    let again = true;
    try {
      if (!document.hidden) again = (await this.step()) !== false;
    } catch (error) {
      if (!this.stopped) this.onError(error);
    }
    if (again && !this.stopped) this.timer = setTimeout(() => this.run(), this.intervalMs);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
