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

export class BestSoFarChart {
  constructor(div, store, metric, onPick) {
    this.div = div;
    this.store = store;
    this.metric = metric;
    this.onPick = onPick;
    this.drawnCount = -1;
  }

  /** Redraw when trials completed since the last draw (completed is final). */
  async update() {
    const trials = this.store.completed();
    if (trials.length === this.drawnCount) return;
    const first = this.drawnCount < 0;
    const Plotly = await loadPlotly();
    this.drawnCount = trials.length;
    const x = new Array(trials.length);
    const y = new Array(trials.length);
    const ids = new Array(trials.length);
    const stepX = [];
    const stepY = [];
    let best = null;
    trials.forEach((trial, i) => {
      x[i] = trial.number;
      y[i] = trial.value;
      ids[i] = trial.id;
      if (best === null || this.store.better(trial.value, best)) {
        best = trial.value;
        stepX.push(trial.number);
        stepY.push(best);
      }
    });
    if (trials.length) {
      stepX.push(trials[trials.length - 1].number);
      stepY.push(best);
    }
    const data = [
      {
        type: markerType(trials.length),
        mode: "markers",
        name: "trial",
        x,
        y,
        customdata: ids,
        marker: { size: 5, color: COLORS.value, opacity: 0.55 },
        hovertemplate: "trial %{x}<br>%{y}<extra></extra>",
      },
      {
        type: "scatter",
        mode: "lines",
        name: "best so far",
        x: stepX,
        y: stepY,
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
    if (first) onPointClick(this.div, this.onPick);
  }
}
