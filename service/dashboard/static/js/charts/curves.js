// Learning curves (dev accuracy and dev loss per epoch) of a set of trials:
// running ones, the best ones, and those stopped early, each marked as such.

import { CONFIG, countAxis, layout, loadPlotly, onPointClick, title } from "./plot.js";
import { TRIAL } from "../states.js";

const PALETTE = [
  "#3b6fb6",
  "#d1495b",
  "#2a9d8f",
  "#edae49",
  "#6a4c93",
  "#00798c",
  "#e76f51",
  "#8ab17d",
  "#b5838d",
  "#264653",
  "#f4a261",
  "#577590",
];

/** How a shown trial is labelled and drawn, from its state. */
export function roleOf(trial) {
  if (trial.status === TRIAL.RUNNING) return { label: TRIAL.RUNNING, dash: "solid", end: null };
  if (trial.status === TRIAL.PAUSED) {
    return { label: TRIAL.PAUSED, dash: "dashdot", end: "diamond-open" };
  }
  if (trial.status === TRIAL.PRUNED) return { label: TRIAL.PRUNED, dash: "dot", end: "x" };
  if (trial.stop_reason) return { label: "stopped", dash: "dash", end: "x" };
  if (trial.status === TRIAL.FAILED) return { label: TRIAL.FAILED, dash: "dot", end: "x" };
  return { label: trial.status, dash: "solid", end: null };
}

/** Plotly traces of one metric for each {trial, rows} entry. */
export function curveTraces(entries, metric) {
  return entries.map(({ trial, rows }) => {
    const role = roleOf(trial);
    const color = PALETTE[trial.number % PALETTE.length];
    const x = rows.map((r) => r.epoch);
    return {
      type: "scatter",
      mode: "lines+markers",
      name: `#${trial.number} ${role.label}`,
      x,
      y: rows.map((r) => r[metric]),
      customdata: x.map(() => trial.id),
      line: { color, dash: role.dash, width: trial.status === TRIAL.RUNNING ? 2.5 : 1.5 },
      marker: {
        color,
        size: x.map((_, k) => (role.end && k === x.length - 1 ? 10 : 3)),
        symbol: x.map((_, k) => (role.end && k === x.length - 1 ? role.end : "circle")),
      },
      hovertemplate: `#${trial.number} (${role.label}) epoch %{x}: %{y}<extra></extra>`,
    };
  });
}

/** A pair of charts: dev accuracy and dev loss against epoch. */
export class CurvesChart {
  constructor(accuracyDiv, lossDiv, onPick) {
    this.panels = [
      { div: accuracyDiv, metric: "dev_accuracy", label: "dev accuracy" },
      { div: lossDiv, metric: "dev_loss", label: "dev loss" },
    ];
    this.onPick = onPick;
    this.drawn = false;
  }

  async show(entries) {
    const Plotly = await loadPlotly();
    const lastEpoch = Math.max(0, ...entries.map(({ rows }) => rows.length - 1));
    await Promise.all(
      this.panels.map((panel) =>
        Plotly.react(
          panel.div,
          curveTraces(entries, panel.metric),
          layout({
            title: title(`Learning curves: ${panel.label}`),
            xaxis: countAxis("epoch", lastEpoch),
            yaxis: { title: title(panel.label) },
            margin: { l: 56, r: 12, t: 32, b: 44 },
          }),
          CONFIG,
        ),
      ),
    );
    if (!this.drawn) this.panels.forEach((panel) => onPointClick(panel.div, this.onPick));
    this.drawn = true;
  }
}
