// Loading Plotly, and the settings every chart shares.

let loading = null;

/**
 * Load the vendored Plotly once. The page asks for it after starting its API
 * requests, so the server answers while the browser parses the 1.5 MB script.
 */
export function loadPlotly() {
  loading ??= new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = "vendor/plotly-gl2d.min.js";
    script.onload = () => {
      performance.mark("caviar:plotly");
      resolve(window.Plotly);
    };
    script.onerror = () => reject(new Error("could not load vendor/plotly-gl2d.min.js"));
    document.head.append(script);
  });
  return loading;
}

export const CONFIG = {
  displaylogo: false,
  responsive: true,
  modeBarButtonsToRemove: ["lasso2d", "select2d"],
};

export const COLORS = {
  value: "#3b6fb6",
  best: "#d1495b",
  pruned: "#9aa3ad",
  running: "#2a9d8f",
  paused: "#e09f3e",
  box: "rgba(237, 174, 73, 0.18)",
  boxLine: "rgba(237, 174, 73, 0.9)",
};

/** Free a chart's WebGL contexts and listeners (no-op before Plotly loaded). */
export function purge(div) {
  if (window.Plotly) window.Plotly.purge(div);
}

/**
 * The trace type for n points: SVG is quicker to set up and crisper for a
 * few thousand points; WebGL keeps tens of thousands fast.
 */
export const markerType = (n) => (n > 2000 ? "scattergl" : "scatter");

/** A layout with the house margins and fonts, merged with the chart's own keys. */
export function layout(extra) {
  return {
    margin: { l: 56, r: 16, t: 32, b: 44 },
    font: { family: "system-ui, sans-serif", size: 12 },
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "#fbfcfd",
    hovermode: "closest",
    showlegend: false,
    ...extra,
  };
}

/** An axis of whole numbers up to `max`: one tick per number while few, else automatic. */
export function countAxis(text, max) {
  return {
    title: title(text),
    zeroline: false,
    rangemode: "tozero",
    ...(max <= 10 ? { dtick: 1 } : {}),
  };
}

/** Title object in the form Plotly 2+ expects. */
export const title = (text) => ({ text, font: { size: 13 } });

/** Call onPick(trialId) when a point carrying a trial id in customdata is clicked. */
export function onPointClick(div, onPick) {
  div.on("plotly_click", (event) => {
    const point = event && event.points && event.points[0];
    if (point && point.customdata !== undefined) onPick(point.customdata);
  });
}
