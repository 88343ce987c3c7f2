// Parallel coordinates over every searched parameter and the objective,
// each line a completed trial colored by its objective value. Drawn once it
// scrolls into view: parcoords is the costliest chart to draw, and it sits
// below the fold.

import { parcoordsDimension } from "../space.js";
import { CONFIG, layout, loadPlotly, title } from "./plot.js";

const MAX_LINES = 2000;
const MIN_GAP_MS = 5000;

/**
 * The trials drawn: all of them up to MAX_LINES; past that the best half of
 * MAX_LINES and the other half spread evenly over the rest by rank, so the
 * good region stays dense and the shape of the rest stays visible. (Ten
 * thousand lines are a solid block, and slow to draw without a GPU.)
 */
export function linesToDraw(trials, rankOf) {
  if (trials.length <= MAX_LINES) return trials;
  const half = MAX_LINES / 2;
  const ranked = [...trials].sort((a, b) => rankOf(a.value) - rankOf(b.value));
  const chosen = ranked.slice(0, half);
  const rest = ranked.length - half;
  for (let i = 0; i < half; i += 1) chosen.push(ranked[half + Math.floor((i * rest) / half)]);
  return chosen;
}

export class ParallelChart {
  constructor(div, axes, metric, goal, store) {
    this.div = div;
    this.axes = axes;
    this.metric = metric;
    this.goal = goal;
    this.store = store;
    this.drawnCount = -1;
    this.drawnAt = -Infinity;
    this.visible = false;
    this.later = null;
    this.observer = new IntersectionObserver(
      (entries) => {
        if (!entries.some((entry) => entry.isIntersecting)) return;
        this.observer.disconnect();
        this.visible = true;
        this.update().then(() => {
          div.dataset.drawn = "true";
        });
      },
      { rootMargin: "200px" },
    );
  }

  /** Draw once the chart scrolls into view (call when the store holds the trials). */
  watch() {
    this.observer.observe(this.div);
  }

  /**
   * Redraw when trials completed since the last draw (completed is final),
   * at most once every MIN_GAP_MS: with many workers trials complete at every
   * poll, and redrawing thousands of lines each time would keep the page busy.
   */
  async update() {
    const trials = this.store.completed();
    if (!this.visible || trials.length === this.drawnCount || this.later) return;
    const wait = this.drawnAt + MIN_GAP_MS - performance.now();
    if (wait > 0) {
      this.later = setTimeout(() => {
        this.later = null;
        this.update();
      }, wait);
      return;
    }
    this.drawnCount = trials.length;
    this.drawnAt = performance.now();
    const Plotly = await loadPlotly();
    const drawn = linesToDraw(trials, (v) => this.store.rankOf(v));
    const values = drawn.map((t) => t.value);
    const dimensions = this.axes.map((axis) => parcoordsDimension(axis, drawn));
    dimensions.push({ label: this.metric, values });
    const narrow = this.div.clientWidth < 600;
    const data = [
      {
        type: "parcoords",
        dimensions,
        labelangle: narrow ? -25 : 0,
        labelside: narrow ? "bottom" : "top",
        line: {
          color: values,
          colorscale: "Viridis",
          reversescale: this.goal === "minimize",
          showscale: !narrow,
          colorbar: { title: { text: this.metric, side: "right" }, thickness: 12 },
        },
      },
    ];
    const look = layout({
      title: title(
        drawn.length < trials.length
          ? `Parameters and objective: the best ${drawn.length / 2} trials and ` +
              `${drawn.length / 2} spread over the other ${trials.length - drawn.length / 2}`
          : "Parameters and objective",
      ),
      margin: narrow ? { l: 64, r: 36, t: 40, b: 90 } : { l: 64, r: 64, t: 84, b: 24 },
    });
    await Plotly.react(this.div, data, look, CONFIG);
  }

  /** Stop watching and cancel a pending redraw. */
  dispose() {
    this.observer.disconnect();
    clearTimeout(this.later);
  }
}
