// The rungs of an ASHA or Hyperband search: each trial's objective value at each rung it
// reached, against the rung's epochs, marked by what the rule made of it (continued,
// stopped, paused, resumed); the rungs drawn as vertical lines, one panel per bracket.

import { COLORS, CONFIG, layout, loadPlotly, onPointClick, title } from "./plot.js";
import { OUTCOME } from "../states.js";

// At most this many markers, in SVG: a first WebGL draw of 14,000 (10,000 trials) takes
// 1.6-1.8 s of the page's main thread in software WebGL, 1,500 in SVG 0.17 s.
const MAX_MARKERS = 1500;

const STYLE = {
  [OUTCOME.CONTINUED]: { symbol: "circle", color: COLORS.running },
  [OUTCOME.STOPPED]: { symbol: "x", color: COLORS.best },
  [OUTCOME.PAUSED]: { symbol: "diamond-open", color: COLORS.paused },
  [OUTCOME.RESUMED]: { symbol: "triangle-up", color: COLORS.value },
};
const PATH = "rgba(107, 118, 134, 0.3)";
const RUNG_LINE = { color: "#9aa3ad", width: 1, dash: "dot" };

/** The outcomes in the legend: those the rule can give (resume pauses instead of stopping),
 * and any other the entries hold. */
function outcomesShown(entries, resume) {
  const possible = resume
    ? [OUTCOME.CONTINUED, OUTCOME.PAUSED, OUTCOME.RESUMED]
    : [OUTCOME.CONTINUED, OUTCOME.STOPPED];
  const present = new Set(entries.map((e) => e.outcome));
  return Object.values(OUTCOME).filter((o) => possible.includes(o) || present.has(o));
}

/**
 * The entries drawn: all of them up to MAX_MARKERS; past that, at each rung holding more
 * than its share of MAX_MARKERS, the best half of its share and the other half spread
 * evenly over the rest by rank (as the parallel coordinates do): the top of every rung,
 * where the rule's line falls, stays exact, and the shape of the rest stays visible.
 * `rankOf(value)` is smaller for better values.
 */
export function entriesToDraw(entries, rankOf) {
  if (entries.length <= MAX_MARKERS) return entries;
  const rungs = new Map();
  for (const entry of entries) {
    const key = `${entry.bracket}:${entry.rung}`;
    if (!rungs.has(key)) rungs.set(key, []);
    rungs.get(key).push(entry);
  }
  const share = Math.max(100, Math.floor(MAX_MARKERS / rungs.size));
  const key = (entry) => (entry.value === null ? Infinity : rankOf(entry.value));
  const drawn = [];
  for (const at of rungs.values()) {
    if (at.length <= share) {
      drawn.push(...at);
      continue;
    }
    const ranked = [...at].sort((a, b) => key(a) - key(b));
    const best = Math.floor(share / 2);
    const spread = share - best;
    const rest = ranked.length - best;
    drawn.push(...ranked.slice(0, best));
    for (let i = 0; i < spread; i += 1) drawn.push(ranked[best + Math.floor((i * rest) / spread)]);
  }
  return drawn;
}

/** Each trial's way through the rungs as one line trace, trials separated by gaps. */
function pathTrace(entries, xaxis) {
  const byTrial = new Map();
  for (const entry of entries) {
    if (!byTrial.has(entry.trial_id)) byTrial.set(entry.trial_id, []);
    byTrial.get(entry.trial_id).push(entry);
  }
  const x = [];
  const y = [];
  for (const steps of byTrial.values()) {
    if (steps.length < 2) continue;
    for (const step of steps) {
      x.push(step.epochs);
      y.push(step.value);
    }
    x.push(null);
    y.push(null);
  }
  return {
    type: "scatter",
    mode: "lines",
    name: "path",
    xaxis,
    x,
    y,
    line: { color: PATH, width: 1 },
    hoverinfo: "skip",
    showlegend: false,
  };
}

function outcomeTrace(entries, outcome, xaxis, inLegend) {
  const style = STYLE[outcome];
  return {
    type: "scatter",
    mode: "markers",
    name: outcome,
    legendgroup: outcome,
    showlegend: inLegend,
    xaxis,
    x: entries.map((e) => e.epochs),
    y: entries.map((e) => e.value),
    customdata: entries.map((e) => e.trial_id),
    text: entries.map((e) => `#${e.number}`),
    marker: {
      symbol: style.symbol,
      color: style.color,
      size: 8,
      opacity: 0.8,
      line: { width: 1.5, color: style.color },
    },
    hovertemplate: `%{text} at %{x} epochs: %{y} (${outcome})<extra></extra>`,
  };
}

/**
 * Plotly data and layout of the rungs answer (GET /searches/{id}/rungs) for a chart
 * `pixels` wide (narrow panels get shorter labels); `rankOf` as for entriesToDraw.
 */
export function rungFigure(answer, { metric, resume, rankOf, pixels }) {
  const panels = answer.brackets.filter((b) => b.rungs.length);
  const epochs = panels.flatMap((b) => b.rungs.map((r) => r.epochs));
  const log = Math.max(...epochs) >= 4 * Math.min(...epochs);
  const drawn = entriesToDraw(answer.entries, rankOf);
  const shown = outcomesShown(answer.entries, resume);
  const gap = 0.05;
  const width = (1 - gap * (panels.length - 1)) / panels.length;
  const wide = width * pixels >= 240;
  const data = [];
  const shapes = [];
  const annotations = [];
  const axes = {};
  panels.forEach((bracket, i) => {
    const xaxis = i === 0 ? "x" : `x${i + 1}`;
    const entries = drawn.filter((e) => e.bracket === bracket.bracket);
    const first = bracket.rungs[0].epochs;
    const last = bracket.rungs[bracket.rungs.length - 1].epochs;
    const pad = log ? 0.2 : Math.max(0.5, 0.08 * (last - first));
    axes[i === 0 ? "xaxis" : `xaxis${i + 1}`] = {
      domain: [i * (width + gap), i * (width + gap) + width],
      anchor: "y",
      type: log ? "log" : "linear",
      range: log
        ? [Math.log10(first) - pad, Math.log10(last) + pad]
        : [first - pad, last + pad],
      tickvals: bracket.rungs.map((r) => r.epochs),
      title: title(
        panels.length === 1 ? "epochs" : `bracket ${bracket.bracket}${wide ? " · epochs" : ""}`,
      ),
      zeroline: false,
    };
    data.push(pathTrace(entries, xaxis));
    for (const outcome of shown) {
      const at = entries.filter((e) => e.outcome === outcome);
      data.push(outcomeTrace(at, outcome, xaxis, i === 0));
    }
    for (const rung of bracket.rungs) {
      shapes.push({
        type: "line",
        xref: xaxis,
        yref: "paper",
        x0: rung.epochs,
        x1: rung.epochs,
        y0: 0,
        y1: 1,
        line: RUNG_LINE,
      });
      annotations.push({
        xref: xaxis,
        yref: "paper",
        // Annotations on a log axis are placed in log10 units (shapes in data units).
        x: log ? Math.log10(rung.epochs) : rung.epochs,
        y: 1,
        yanchor: "bottom",
        showarrow: false,
        text: wide ? `rung ${rung.rung}: ${rung.values} trials` : String(rung.values),
        font: { size: 10, color: "#6b7686" },
      });
    }
  });
  const name = answer.kind === "hyperband" ? "Hyperband" : "ASHA";
  const sampled = drawn.length < answer.entries.length;
  const count = sampled ? ` · ${drawn.length} of ${answer.entries.length} values drawn` : "";
  return {
    data,
    layout: layout({
      title: title(`${name} rungs (η = ${answer.eta})${count}`),
      ...axes,
      yaxis: { title: title(metric), anchor: "x" },
      shapes,
      annotations,
      showlegend: true,
      legend: { orientation: "h", x: 0, y: -0.24, yanchor: "top" },
      margin: { l: 56, r: 16, t: 56, b: 80 },
    }),
  };
}

export class RungChart {
  /** `rankOf(value)` is smaller for better values (the search's goal). */
  constructor(div, { metric, resume, rankOf }, onPick) {
    this.div = div;
    this.options = { metric, resume, rankOf };
    this.onPick = onPick;
    this.clickable = false;
  }

  /** Draw the rungs answer; nothing to draw before a rung exists. */
  async draw(answer) {
    if (!answer.brackets.some((b) => b.rungs.length)) return;
    const Plotly = await loadPlotly();
    const figure = rungFigure(answer, { ...this.options, pixels: this.div.clientWidth });
    await Plotly.react(this.div, figure.data, figure.layout, CONFIG);
    if (!this.clickable) onPointClick(this.div, this.onPick);
    this.clickable = true;
  }
}
