// The trials of a search as a CSV file, built in the browser from the store.

const FIXED = [
  "id",
  "number",
  "status",
  "value",
  "attempt",
  "last_epoch",
  "worker_id",
  "created_at",
  "started_at",
  "finished_at",
  "stop_reason",
  "error",
];

function quote(value) {
  if (value === null || value === undefined) return "";
  const text = typeof value === "object" ? JSON.stringify(value) : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** CSV text: one row per trial, params and final metrics as their own columns. */
export function trialsCsv(trials, paramNames) {
  const metricNames = [...new Set(trials.flatMap((t) => Object.keys(t.metrics || {})))].sort();
  const header = [
    ...FIXED,
    ...paramNames.map((n) => `param_${n}`),
    ...metricNames.map((n) => `metric_${n}`),
  ];
  const lines = [header.join(",")];
  for (const t of trials) {
    lines.push(
      [
        ...FIXED.map((key) => quote(t[key])),
        ...paramNames.map((n) => quote(t.params[n])),
        ...metricNames.map((n) => quote(t.metrics ? t.metrics[n] : null)),
      ].join(","),
    );
  }
  return `${lines.join("\n")}\n`;
}

/** Offer text as a file download. */
export function download(filename, text) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
