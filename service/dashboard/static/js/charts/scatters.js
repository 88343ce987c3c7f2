// The objective against each searched parameter: one subplot per parameter,
// on the parameter's own scale, with coarse_to_fine boxes drawn as bands.
// All subplots live in one Plotly figure, so that past 2,000 points they
// share one WebGL context: each context costs ~150 ms to set up without a
// GPU, and a figure per parameter made that the biggest share of a first
// render at 10,000 trials.

import { COLORS, CONFIG, layout, loadPlotly, markerType, onPointClick, title } from "./plot.js";
import { TRIAL } from "../states.js";

const ROUND_COLORS = ["#edae49", "#00798c", "#d1495b", "#66a182", "#8d96a3"];
const MIN_CELL_WIDTH = 300;
const ROW_HEIGHT = 260;
const MARGIN = { l: 56, r: 12, t: 12, b: 44 };
const GAP_X = 64;
const GAP_Y = 60;

/** Plotly's names of subplot k's axes: trace refs ("x2") and layout keys ("xaxis2"). */
export function axisNames(k) {
  const suffix = k === 0 ? "" : String(k + 1);
  return { x: `x${suffix}`, y: `y${suffix}`, xaxis: `xaxis${suffix}`, yaxis: `yaxis${suffix}` };
}

/** Columns for n subplots in a figure `width` px wide: as many as fit, rows balanced. */
export function columnsFor(n, width) {
  const fit = Math.max(1, Math.floor(width / MIN_CELL_WIDTH));
  const rows = Math.ceil(n / Math.min(n, fit));
  return Math.ceil(n / rows);
}

/** The x and y domains of subplot k in a grid of `columns`, `rows`, on a width × height px figure. */
function domains(k, columns, rows, width, height) {
  const plotWidth = width - MARGIN.l - MARGIN.r;
  const plotHeight = height - MARGIN.t - MARGIN.b;
  const cellWidth = (plotWidth - (columns - 1) * GAP_X) / columns;
  const cellHeight = (plotHeight - (rows - 1) * GAP_Y) / rows;
  const column = k % columns;
  const row = Math.floor(k / columns);
  const left = column * (cellWidth + GAP_X);
  const top = plotHeight - row * (cellHeight + GAP_Y);
  return {
    x: [left / plotWidth, (left + cellWidth) / plotWidth],
    y: [(top - cellHeight) / plotHeight, top / plotHeight],
  };
}

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

/** Bands over the x range each coarse_to_fine round sampled (not the whole range) on subplot k. */
export function roundShapes(axis, rounds, k = 0) {
  const { x, y } = axisNames(k);
  const shapes = [];
  for (const round of rounds || []) {
    const span = round.box && round.box[axis.name];
    if (!span || (span[0] <= 0 && span[1] >= 1)) continue;
    const [x0, x1] = axis.unitSpan(span);
    const color = ROUND_COLORS[round.round % ROUND_COLORS.length];
    shapes.push({
      type: "rect",
      xref: x,
      yref: `${y} domain`,
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

/** One figure of the objective against every parameter, grown by extendTraces. */
export class ScatterGrid {
  constructor(div, axes, metric, store, onPick) {
    this.div = div;
    this.axes = axes;
    this.metric = metric;
    this.store = store;
    this.onPick = onPick;
    this.plotted = new Set();
    this.rounds = [];
    this.drawn = false;
    this.clickable = false;
    this.previewing = Promise.resolve();
    this.columns = 0;
    div.dataset.params = axes.map((a) => a.name).join(" ");
    this.size();
    this.onResize = () => {
      if (this.drawn && columnsFor(this.axes.length, this.div.clientWidth) !== this.columns) {
        this.redraw();
      }
    };
    window.addEventListener("resize", this.onResize);
  }

  pointsOf(trials, axis) {
    return {
      x: trials.map((t) => axis.toAxis(t.params[axis.name])),
      y: trials.map((t) => t.value),
      customdata: trials.map((t) => t.id),
    };
  }

  /** Two traces per parameter (completed, pruned), in the order of the axes. */
  traces(completed, pruned) {
    return this.axes.flatMap((axis, k) => {
      const { x, y } = axisNames(k);
      const hover = `${axis.name}=%{x}<br>${this.metric}=%{y}<extra>%{fullData.name}</extra>`;
      const common = { type: this.type, mode: "markers", xaxis: x, yaxis: y, meta: axis.name };
      return [
        {
          ...common,
          name: TRIAL.COMPLETED,
          ...this.pointsOf(completed, axis),
          marker: { size: 6, color: COLORS.value, opacity: 0.6 },
          hovertemplate: hover,
        },
        {
          ...common,
          name: TRIAL.PRUNED,
          ...this.pointsOf(pruned, axis),
          marker: { size: 5, color: COLORS.pruned, opacity: 0.6, symbol: "x" },
          hovertemplate: hover,
        },
      ];
    });
  }

  /** Columns, rows and height for the figure's current width; sets the div's height. */
  size() {
    const n = Math.max(1, this.axes.length);
    const width = this.div.clientWidth || MIN_CELL_WIDTH;
    this.columns = columnsFor(n, width);
    const rows = Math.ceil(n / this.columns);
    const height = rows * ROW_HEIGHT;
    this.div.style.height = `${height}px`;
    return { width, rows, height };
  }

  /** Axes, domains, height and round boxes for the figure's current width. */
  look() {
    const { width, rows, height } = this.size();
    const extra = { margin: MARGIN, height, shapes: [] };
    this.axes.forEach((axis, k) => {
      const names = axisNames(k);
      const domain = domains(k, this.columns, rows, width, height);
      extra[names.xaxis] = { ...xaxisOf(axis), domain: domain.x, anchor: names.y };
      extra[names.yaxis] = {
        domain: domain.y,
        anchor: names.x,
        ...(k % this.columns === 0 ? { title: title(this.metric) } : {}),
      };
      extra.shapes.push(...roundShapes(axis, this.rounds, k));
    });
    return layout(extra);
  }

  /**
   * Draw the best few trials (`best` resolves to them: listed before every
   * trial is loaded) with the trace type the full figure will have for
   * `expected` points, so that Plotly sets up its WebGL context and shaders
   * (~0.5 s without a GPU) while the full load is still on its way. update()
   * then draws every trial.
   */
  preview(best, expected) {
    if (!this.axes.length) return this.previewing;
    this.previewing = (async () => {
      const trials = (await best).filter((t) => t.value !== null);
      const Plotly = await loadPlotly();
      this.type = markerType(expected);
      await Plotly.react(this.div, this.traces(trials, []), this.look(), CONFIG);
      this.listen();
    })().catch(() => {
      // Only a head start: update() draws the whole figure and reports its errors.
    });
    return this.previewing;
  }

  listen() {
    if (!this.clickable) onPointClick(this.div, this.onPick);
    this.clickable = true;
  }

  async redraw() {
    const Plotly = await loadPlotly();
    const completed = this.store.completed();
    const pruned = this.store.pruned();
    this.type = markerType(completed.length + pruned.length);
    this.plotted = new Set([...completed, ...pruned].map((t) => t.id));
    await Plotly.react(this.div, this.traces(completed, pruned), this.look(), CONFIG);
    this.listen();
    this.drawn = true;
  }

  /** Add what changed (or draw everything the first time); redraw if a plotted trial changed. */
  async update(changed, rounds) {
    if (!this.axes.length) return undefined;
    await this.previewing;
    const roundsMoved = (rounds || []).length !== this.rounds.length;
    this.rounds = rounds || [];
    const completed = changed.filter((t) => t.status === TRIAL.COMPLETED && t.value !== null);
    const pruned = changed.filter((t) => t.status === TRIAL.PRUNED && t.value !== null);
    const grown = this.plotted.size + completed.length + pruned.length;
    if (
      !this.drawn ||
      changed.some((t) => this.plotted.has(t.id)) ||
      markerType(grown) !== this.type
    ) {
      return this.redraw();
    }
    const Plotly = await loadPlotly();
    if (roundsMoved) {
      await Plotly.relayout(this.div, {
        shapes: this.axes.flatMap((axis, k) => roundShapes(axis, this.rounds, k)),
      });
    }
    if (!completed.length && !pruned.length) return undefined;
    for (const t of [...completed, ...pruned]) this.plotted.add(t.id);
    const update = { x: [], y: [], customdata: [] };
    for (const axis of this.axes) {
      for (const trials of [completed, pruned]) {
        const points = this.pointsOf(trials, axis);
        update.x.push(points.x);
        update.y.push(points.y);
        update.customdata.push(points.customdata);
      }
    }
    return Plotly.extendTraces(this.div, update, update.x.map((_, i) => i));
  }

  /** Stop following the window's width. */
  dispose() {
    window.removeEventListener("resize", this.onResize);
  }
}
