// Best-so-far against trial number: each completed trial's value, and the
// running best as a step line.

import {
  COLORS,
  CONFIG,
  countAxis,
  layout,
  loadPlotly,
  markerType,
  onPointClick,
  title,
} from "./plot.js";

/** The running best as a step line over trials by number: its x and y. */
function bestSteps(trials, better) {
  const x = [];
  const y = [];
  let best = null;
  for (const trial of trials) {
    if (best === null || better(trial.value, best)) {
      best = trial.value;
      x.push(trial.number);
      y.push(best);
    }
  }
  if (trials.length) {
    x.push(trials[trials.length - 1].number);
    y.push(best);
  }
  return { x, y };
}

export class BestSoFarChart {
  constructor(div, store, metric, onPick) {
    this.div = div;
    this.store = store;
    this.metric = metric;
    this.onPick = onPick;
    this.drawnCount = -1;
    this.clickable = false;
    this.previewing = Promise.resolve();
  }

  /**
   * The trials' values as points of a trace of the type `expected` points
   * take, and, with steps, the running best over them.
   */
  async draw(trials, expected, steps) {
    const Plotly = await loadPlotly();
    const line = steps ? bestSteps(trials, (a, b) => this.store.better(a, b)) : { x: [], y: [] };
    const data = [
      {
        type: markerType(expected),
        mode: "markers",
        name: "trial",
        x: trials.map((t) => t.number),
        y: trials.map((t) => t.value),
        customdata: trials.map((t) => t.id),
        marker: { size: 5, color: COLORS.value, opacity: 0.55 },
        hovertemplate: "trial %{x}<br>%{y}<extra></extra>",
      },
      {
        type: "scatter",
        mode: "lines",
        name: "best so far",
        ...line,
        line: { shape: "hv", color: COLORS.best, width: 2 },
        hoverinfo: "skip",
      },
    ];
    const look = layout({
      title: title("Best so far"),
      xaxis: countAxis("trial number", trials.length ? trials[trials.length - 1].number : 0),
      yaxis: { title: title(this.metric) },
    });
    await Plotly.react(this.div, data, look, CONFIG);
    if (!this.clickable) onPointClick(this.div, this.onPick);
    this.clickable = true;
  }

  /**
   * Draw the best few trials (`best` resolves to them: listed before every
   * trial is loaded) as points, with the trace type `expected` points will
   * take, so that Plotly sets up its WebGL context while the full load is on
   * its way. No step line: the best few alone do not say when the best improved.
   */
  preview(best, expected) {
    this.previewing = best
      .then((trials) => {
        const shown = trials.filter((t) => t.value !== null).sort((a, b) => a.number - b.number);
        return this.draw(shown, expected, false);
      })
      .catch(() => {
        // Only a head start: update() draws the chart and reports its errors.
      });
    return this.previewing;
  }

  /** Redraw when trials completed since the last draw (completed is final). */
  async update() {
    await this.previewing;
    const trials = this.store.completed();
    if (trials.length === this.drawnCount) return;
    this.drawnCount = trials.length;
    await this.draw(trials, trials.length, true);
  }
}
