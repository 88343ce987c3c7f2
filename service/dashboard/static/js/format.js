// Formatting of numbers, times and durations, and a small DOM builder.

/** About 4 significant digits; integers as they are; lists as "[64, 32]"; "—" for null. */
export function fmtNumber(value) {
  if (value === null || value === undefined) return "—";
  if (Array.isArray(value)) return `[${value.map(fmtNumber).join(", ")}]`;
  if (typeof value !== "number") return String(value);
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e5)) return value.toExponential(2);
  return String(Number(value.toPrecision(4)));
}

/** Seconds between two ISO times (or until now when `end` is null), or null. */
export function secondsBetween(start, end) {
  if (!start) return null;
  const stop = end ? Date.parse(end) : Date.now();
  return Math.max(0, (stop - Date.parse(start)) / 1000);
}

/** "42 s", "3 min", "2.5 h", "4 d". */
export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 86400) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

/** How long ago an ISO time was: "12 s ago". */
export function fmtAge(iso) {
  const seconds = secondsBetween(iso, null);
  return seconds === null ? "—" : `${fmtDuration(seconds)} ago`;
}

/** params as "name=value, ..." for one-line display. */
export function fmtParams(params) {
  return Object.entries(params || {})
    .map(([name, value]) => `${name}=${fmtNumber(value)}`)
    .join(", ");
}

/**
 * Create an element: el("td", {class: "num", dataset: {id: 3}}, "text", childNode).
 * Text children are inserted as text, never parsed as HTML.
 */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}
