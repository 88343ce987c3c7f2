// How each searched parameter is drawn: its axis, and where its unit-space
// coordinates land on that axis (coarse_to_fine boxes are in unit space).

import { fmtNumber } from "./format.js";

/**
 * An axis for one parameter of the spec:
 *   kind: "linear" | "log" | "category"
 *   extent: [from, to], the searched range in plotted coordinates (not for choices)
 *   decades: how many powers of ten a log axis spans
 *   title: axis label ("1 − beta1" for reverse_log: that is what is plotted)
 *   toAxis(value): the plotted coordinate of a parameter value
 *   unitSpan([u0, u1]): the [from, to] span a unit-space interval covers on the axis
 *   categories: the labels of a choice parameter, in spec order
 */
export function axisFor(name, spec) {
  if (spec.type === "choice") return choiceAxis(name, spec.values);
  // As the server's samplers do: an int's scale runs over [low - 0.5, high + 0.5]
  // and the value is rounded, so each integer owns a unit-wide bin.
  const low = spec.type === "int" ? spec.low - 0.5 : spec.low;
  const high = spec.type === "int" ? spec.high + 0.5 : spec.high;
  const scale = spec.scale || "linear";
  if (scale === "log") {
    const fromUnit = (u) => low * (high / low) ** u;
    return {
      name,
      kind: "log",
      title: `${name} (log)`,
      extent: [low, high],
      decades: Math.log10(high / low),
      toAxis: (v) => v,
      unitSpan: ([u0, u1]) => [fromUnit(u0), fromUnit(u1)],
    };
  }
  if (scale === "reverse_log") {
    // 1 - x is log-uniform between 1 - high and 1 - low.
    const oneMinus = (u) => (1 - low) * ((1 - high) / (1 - low)) ** u;
    return {
      name,
      kind: "log",
      title: `1 − ${name} (log)`,
      extent: [1 - high, 1 - low],
      decades: Math.log10((1 - low) / (1 - high)),
      toAxis: (v) => 1 - v,
      unitSpan: ([u0, u1]) => [oneMinus(u1), oneMinus(u0)],
    };
  }
  const fromUnit = (u) => low + u * (high - low);
  return {
    name,
    kind: "linear",
    title: name,
    extent: [low, high],
    toAxis: (v) => v,
    unitSpan: ([u0, u1]) => [fromUnit(u0), fromUnit(u1)],
  };
}

function choiceAxis(name, values) {
  const categories = values.map(fmtNumber);
  const n = values.length;
  const index = (u) => Math.min(n - 1, Math.floor(u * n));
  return {
    name,
    kind: "category",
    title: name,
    categories,
    toAxis: fmtNumber,
    // Category i occupies [i - 0.5, i + 0.5] on a category axis.
    unitSpan: ([u0, u1]) => [index(u0) - 0.5, index(Math.max(u0, u1 - 1e-9)) + 0.5],
  };
}

/** Axes of every searched parameter of a search spec, in spec order. */
export function axesOf(spec) {
  return Object.entries(spec.parameters || {}).map(([name, p]) => axisFor(name, p));
}

/**
 * A parallel-coordinates dimension for one parameter: log scales become
 * log10 of the plotted coordinate with ticks labelled in parameter values,
 * choices become category indices.
 */
export function parcoordsDimension(axis, trials) {
  const values = trials.map((t) => axis.toAxis(t.params[axis.name]));
  if (axis.kind === "category") {
    return {
      label: axis.name,
      values: values.map((v) => axis.categories.indexOf(v)),
      tickvals: axis.categories.map((_, i) => i),
      ticktext: axis.categories,
      range: [0, Math.max(1, axis.categories.length - 1)],
    };
  }
  if (axis.kind === "log") {
    const logs = values.map((v) => Math.log10(v));
    const [lo, hi] = extent(logs);
    // Whole decades, so that every tick (one per power of ten) lies on the axis.
    const bottom = Math.floor(lo);
    const top = Math.max(Math.ceil(hi), bottom + 1);
    const tickvals = [];
    for (let d = bottom; d <= top; d += 1) tickvals.push(d);
    return {
      label: axis.title,
      values: logs,
      range: [bottom, top],
      tickvals,
      ticktext: tickvals.map((d) => fmtNumber(10 ** d)),
    };
  }
  return { label: axis.title, values };
}

function extent(values) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo === Infinity ? [0, 1] : [lo, hi];
}
