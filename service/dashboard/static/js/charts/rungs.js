// The rungs of an ASHA or Hyperband search: each trial's objective value at each rung it
// reached, against the rung's epochs, marked by what the rule made of it (continued,
// stopped, paused, resumed); the rungs drawn as vertical lines, one panel per bracket.

import { COLORS, CONFIG, layout, loadPlotly, markerType, onPointClick, title } from "./plot.js";
import { OUTCOME } from "../states.js";

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

/** Each trial's way through the rungs as one line trace, trials separated by gaps. */
function pathTrace(entries, xaxis, type) {
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
    type,
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

function outcomeTrace(entries, outcome, xaxis, type, inLegend) {
  const style = STYLE[outcome];
  return {
    type,
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

/** Plotly data and layout of the rungs answer (GET /searches/{id}/rungs), for a chart
 * `pixels` wide: narrow panels get shorter labels. */
export function rungFigure(answer, metric, resume, pixels) {
  const panels = answer.brackets.filter((b) => b.rungs.length);
  const epochs = panels.flatMap((b) => b.rungs.map((r) => r.epochs));
  const log = Math.max(...epochs) >= 4 * Math.min(...epochs);
  const type = markerType(answer.entries.length);
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
    const entries = answer.entries.filter((e) => e.bracket === bracket.bracket);
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
    data.push(pathTrace(entries, xaxis, type));
    for (const outcome of shown) {
      const at = entries.filter((e) => e.outcome === outcome);
      data.push(outcomeTrace(at, outcome, xaxis, type, i === 0));
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
  return {
    data,
    layout: layout({
      title: title(`${name} rungs (η = ${answer.eta})`),
      ...axes,
      yaxis: { title: title(metric), anchor: "x" },
      shapes,
      annotations,
      showlegend: true,
      legend: { orientation: "h", x: 0, y: -0.2, yanchor: "top" },
      margin: { l: 56, r: 16, t: 56, b: 72 },
    }),
  };
}

export class RungChart {
  constructor(div, metric, resume, onPick) {
    this.div = div;
    this.metric = metric;
    this.resume = resume;
    this.onPick = onPick;
    this.clickable = false;
  }

  /** Draw the rungs answer; nothing to draw before a rung exists. */
  async draw(answer) {
    if (!answer.brackets.some((b) => b.rungs.length)) return;
    const Plotly = await loadPlotly();
    const figure = rungFigure(answer, this.metric, this.resume, this.div.clientWidth);
    await Plotly.react(this.div, figure.data, figure.layout, CONFIG);
    if (!this.clickable) onPointClick(this.div, this.onPick);
    this.clickable = true;
  }
}
