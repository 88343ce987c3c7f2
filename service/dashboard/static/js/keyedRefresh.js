// Fetching again what a view shows when what it depends on moved: one request at a time,
// spaced out, and never awaited by the page's poll.

// A load waits at least this many times as long as the last one took after it, so that a
// view costly on a big search (fetch, parse, draw) takes a small share of the page's time.
const SPACING = 10;

/**
 * `want(key)` asks for the data of `key` (a count, a version) and returns at once;
 * `load(key)` fetches and draws it. A key already loaded is not loaded again; keys that
 * move while a load runs, or within the gap after the last one (`minGapMs`, or SPACING
 * times as long as that load took), are loaded once, the latest. Errors go to `onError`
 * (not once stopped), and the key is tried again after the gap.
 */
export class KeyedRefresh {
  constructor(load, minGapMs, onError) {
    this.load = load;
    this.minGapMs = minGapMs;
    this.onError = onError;
    this.wanted = undefined;
    this.loaded = undefined;
    this.running = false;
    this.timer = null;
    this.nextAt = -Infinity;
    this.stopped = false;
  }

  want(key) {
    this.wanted = key;
    this.kick();
  }

  kick() {
    if (this.stopped || this.running || this.timer || this.wanted === this.loaded) return;
    const wait = this.nextAt - performance.now();
    if (wait > 0) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.kick();
      }, wait);
      return;
    }
    const key = this.wanted;
    const start = performance.now();
    this.running = true;
    this.load(key)
      .then(
        () => {
          this.loaded = key;
        },
        (error) => {
          if (!this.stopped) this.onError(error);
        },
      )
      .finally(() => {
        const took = performance.now() - start;
        this.nextAt = start + Math.max(this.minGapMs, took + SPACING * took);
        this.running = false;
        this.kick();
      });
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
