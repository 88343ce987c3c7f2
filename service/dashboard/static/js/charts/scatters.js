// The objective against each searched parameter: one scatter per parameter,
// on the parameter's own scale, with coarse_to_fine boxes drawn as bands.

import { el } from "../format.js";
import { COLORS, CONFIG, layout, loadPlotly, markerType, onPointClick, title } from "./plot.js";

const ROUND_COLORS = ["#edae49", "#00798c", "#d1495b", "#66a182", "#8d96a3"];

function xaxisOf(axis) {
  const base = { title: title(axis.title), zeroline: false };
  // The whole searched range, a little padded, so the samples show where they
  // fell in the space, not just where they are relative to each other.
  if (axis.kind === "log") {
    const [from, to] = axis.extent.map(Math.log10);
    const pad = 0.03 * (to - from);
    // One labelled tick per power of ten when the range spans a few of them.
    const ticks = axis.decades >= 1.5 ? { dtick: 1 } : {};
    return {
      ...base,
      type: "log",
      exponentformat: "power",
      range: [from - pad, to + pad],
      ...ticks,
    };
  }
  if (axis.kind === "category") {
    return { ...base, type: "category", categoryorder: "array", categoryarray: axis.categories };
  }
  const [from, to] = axis.extent;
  const pad = 0.03 * (to - from);
  return { ...base, type: "linear", range: [from - pad, to + pad] };
}

/** Bands over the x range each coarse_to_fine round sampled (not the whole range). */
export function roundShapes(axis, rounds) {
  const shapes = [];
  for (const round of rounds || []) {
    const span = round.box && round.box[axis.name];
    if (!span || (span[0] <= 0 && span[1] >= 1)) continue;
    const [x0, x1] = axis.unitSpan(span);
    const color = ROUND_COLORS[round.round % ROUND_COLORS.length];
    shapes.push({
      type: "rect",
      xref: "x",
      yref: "paper",
      x0,
      x1,
      y0: 0,
      y1: 1,
      layer: "below",
      fillcolor: color,
      opacity: 0.12,
      line: { color, width: 1 },
      label: { text: `round ${round.round}`, textposition: "top left", font: { size: 10, color } },
    });
  }
  return shapes;
}

/** One scatter of the objective against one parameter, grown by extendTraces. */
class ParamScatter {
  constructor(div, axis, metric, onPick) {
    this.div = div;
    this.axis = axis;
    this.metric = metric;
    this.onPick = onPick;
    this.plotted = new Set();
    this.rounds = [];
    this.drawn = false;
  }

  columns(trials) {
    return {
      x: trials.map((t) => this.axis.toAxis(t.params[this.axis.name])),
      y: trials.map((t) => t.value),
      customdata: trials.map((t) => t.id),
    };
  }

  async redraw(completed, pruned) {
    const Plotly = await loadPlotly();
    this.type = markerType(completed.length + pruned.length);
    this.plotted = new Set([...completed, ...pruned].map((t) => t.id));
    const hover = `${this.axis.name}=%{x}<br>${this.metric}=%{y}<extra>%{fullData.name}</extra>`;
    const data = [
      {
        type: this.type,
        mode: "markers",
        name: "completed",
        ...this.columns(completed),
        marker: { size: 6, color: COLORS.value, opacity: 0.6 },
        hovertemplate: hover,
      },
      {
        type: this.type,
        mode: "markers",
        name: "pruned",
        ...this.columns(pruned),
        marker: { size: 5, color: COLORS.pruned, opacity: 0.6, symbol: "x" },
        hovertemplate: hover,
      },
    ];
    const look = layout({
      xaxis: xaxisOf(this.axis),
      yaxis: { title: title(this.metric) },
      shapes: roundShapes(this.axis, this.rounds),
      margin: { l: 56, r: 12, t: 12, b: 44 },
    });
    await Plotly.react(this.div, data, look, CONFIG);
    if (!this.drawn) onPointClick(this.div, this.onPick);
    this.drawn = true;
  }

  /** Append newly finished trials; redraw only if an already plotted one changed. */
  async add(changed, store) {
    const completed = changed.filter((t) => t.status === "completed" && t.value !== null);
    const pruned = changed.filter((t) => t.status === "pruned" && t.value !== null);
    const grown = this.plotted.size + completed.length + pruned.length;
    if (
      !this.drawn ||
      changed.some((t) => this.plotted.has(t.id)) ||
      markerType(grown) !== this.type
    ) {
      return this.redraw(store.completed(), store.pruned());
    }
    if (!completed.length && !pruned.length) return undefined;
    const a = this.columns(completed);
    const b = this.columns(pruned);
    for (const t of [...completed, ...pruned]) this.plotted.add(t.id);
    const Plotly = await loadPlotly();
    return Plotly.extendTraces(
      this.div,
      { x: [a.x, b.x], y: [a.y, b.y], customdata: [a.customdata, b.customdata] },
      [0, 1],
    );
  }

  async setRounds(rounds) {
    this.rounds = rounds;
    const Plotly = await loadPlotly();
    if (this.drawn) await Plotly.relayout(this.div, { shapes: roundShapes(this.axis, rounds) });
  }
}

/** A grid of ParamScatter, one per searched parameter. */
export class ScatterGrid {
  constructor(container, axes, metric, store, onPick) {
    this.store = store;
    this.roundsSeen = 0;
    this.scatters = axes.map((axis) => {
      const div = el("div", { class: "chart small", dataset: { param: axis.name } });
      container.append(el("figure", { class: "card" }, div));
      return new ParamScatter(div, axis, metric, onPick);
    });
  }

  /** Add what changed (or draw everything the first time). */
  async update(changed, rounds) {
    if ((rounds || []).length !== this.roundsSeen) {
      this.roundsSeen = rounds.length;
      this.scatters.forEach((s) => {
        s.rounds = rounds;
      });
      if (this.scatters.some((s) => s.drawn)) {
        await Promise.all(this.scatters.map((s) => s.setRounds(rounds)));
      }
    }
    await Promise.all(this.scatters.map((s) => s.add(changed, this.store)));
  }
}
