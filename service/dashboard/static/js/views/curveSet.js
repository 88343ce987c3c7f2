// Which trials' learning curves are shown, and fetching their per-epoch rows
// only when a shown trial changed since we last fetched it.

const TOP = 10;
const STOPPED = 5;
const MAX_RUNNING = 24;

/** What identifies a drawing: which trials, in which order, at which change. */
const keyOf = (trials) => trials.map((t) => `${t.id}:${t.seq}`).join(",");

export class CurveSet {
  constructor(store, chart, fetchTrial) {
    this.store = store;
    this.chart = chart;
    this.fetchTrial = fetchTrial;
    this.details = new Map();
    this.shownKey = null;
    this.previewing = Promise.resolve();
  }

  /**
   * Draw the curves of the running and best trials (as the server ranks them)
   * before every trial is loaded: `lists` resolves to {running, best}, short
   * lists the page asks for alongside its full load, and they are drawn while
   * that load is still on its way. The first update() then finds the same
   * trials and redraws only if the choice moved.
   */
  preview(lists) {
    this.previewing = (async () => {
      const { running, best } = await lists;
      const shown = [...running.slice(-MAX_RUNNING), ...best.slice(0, TOP)];
      const fetched = await Promise.all(shown.map((t) => this.fetchTrial(t.id)));
      for (const detail of fetched) this.details.set(detail.id, detail);
      this.shownKey = keyOf(shown);
      await this.chart.show(shown.map((t) => ({ trial: t, rows: this.rowsOf(t) })));
    })().catch(() => {
      // Only a head start: update() fetches and draws what is still missing,
      // and reports the error if it happens again.
      this.shownKey = null;
    });
    return this.previewing;
  }

  rowsOf(trial) {
    return this.details.get(trial.id).intermediate || [];
  }

  /** Running trials, the best completed ones, and the latest stopped early. */
  wanted() {
    const seen = new Set();
    const chosen = [];
    const take = (trials) => {
      for (const t of trials) {
        if (!seen.has(t.id)) {
          seen.add(t.id);
          chosen.push(t);
        }
      }
    };
    take(this.store.running().slice(-MAX_RUNNING));
    take(this.store.top(TOP));
    take(this.store.stoppedRecently(STOPPED));
    return chosen;
  }

  /** Fetch the changed curves among those shown and redraw if anything moved. */
  async update() {
    await this.previewing;
    const shown = this.wanted();
    const stale = shown.filter((t) => {
      const known = this.details.get(t.id);
      return !known || known.seq < t.seq;
    });
    // All requests at once (at most 39): the browser queues them per connection
    // without waiting for the page's main thread, which may be busy drawing.
    const fetched = await Promise.all(stale.map((t) => this.fetchTrial(t.id)));
    for (const detail of fetched) this.details.set(detail.id, detail);
    const ids = new Set(shown.map((t) => t.id));
    for (const id of this.details.keys()) if (!ids.has(id)) this.details.delete(id);
    const key = keyOf(shown);
    if (key === this.shownKey && !fetched.length) return;
    this.shownKey = key;
    await this.chart.show(shown.map((t) => ({ trial: this.store.get(t.id), rows: this.rowsOf(t) })));
  }
}
