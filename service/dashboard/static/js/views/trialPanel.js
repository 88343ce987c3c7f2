// The trial drawer: one trial's facts, params, metrics and curves, with a
// Stop button while it runs.

import { ApiError, getTrial, stopTrial } from "../api.js";
import { CONFIG, countAxis, layout, loadPlotly, purge, title } from "../charts/plot.js";
import { el, fmtDuration, fmtNumber, secondsBetween } from "../format.js";
import { notify } from "../notice.js";
import { TRIAL } from "../states.js";

function table(entries) {
  return el(
    "table",
    { class: "kv" },
    entries.map(([key, value]) => el("tr", {}, el("th", {}, key), el("td", {}, fmtNumber(value)))),
  );
}

export class TrialPanel {
  constructor(store) {
    this.store = store;
    this.trialId = null;
    this.detail = null;
    this.root = el("aside", { class: "trial-panel", hidden: true, "aria-label": "trial" });
    document.body.append(this.root);
    this.onKey = (event) => {
      if (event.key === "Escape" && this.trialId !== null) this.close();
    };
    document.addEventListener("keydown", this.onKey);
  }

  /** Close and leave the page for good. */
  remove() {
    this.close();
    document.removeEventListener("keydown", this.onKey);
    this.root.remove();
  }

  /** Open on a trial (by id) and fetch its rows. */
  async open(id) {
    this.trialId = id;
    this.detail = null;
    this.root.hidden = false;
    this.root.replaceChildren(el("p", {}, "Loading…"));
    await this.load();
  }

  close() {
    this.trialId = null;
    this.root.hidden = true;
    if (this.chart) purge(this.chart);
    this.chart = null;
    this.root.replaceChildren();
  }

  /** Refetch if the shown trial changed since we fetched it. */
  async refresh() {
    if (this.trialId === null || !this.detail) return;
    const trial = this.store.get(this.trialId);
    if (trial && trial.seq > this.detail.seq) await this.load();
  }

  async load() {
    const id = this.trialId;
    const detail = await getTrial(id);
    if (id !== this.trialId) return;
    this.detail = detail;
    await this.render();
  }

  async stop() {
    const button = this.root.querySelector("button.stop");
    button.disabled = true;
    try {
      const trial = await stopTrial(this.trialId);
      notify(`Asked trial #${trial.number} to stop`);
      await this.load();
    } catch (error) {
      button.disabled = false;
      notify(error instanceof ApiError ? `Stop failed: ${error.message}` : String(error), "error");
    }
  }

  async render() {
    const t = this.detail;
    const stopping = t.status === TRIAL.RUNNING && t.stop_reason;
    const stop =
      t.status === TRIAL.RUNNING
        ? el(
            "button",
            {
              type: "button",
              class: "stop danger",
              disabled: Boolean(stopping),
              onclick: () => this.stop(),
            },
            stopping ? "Stopping…" : "Stop trial",
          )
        : null;
    if (this.chart) purge(this.chart);
    this.chart = el("div", { class: "chart panel-chart" });
    const rows = t.intermediate || [];
    const children = [
      el(
        "header",
        {},
        el("h2", {}, `Trial #${t.number}`),
        el("span", { class: `state ${t.status}` }, t.status),
        el(
          "button",
          { type: "button", class: "close", "aria-label": "close", onclick: () => this.close() },
          "×",
        ),
      ),
      stop,
      table([
        ["value", t.value],
        ["attempt", t.attempt],
        ["worker", t.worker_id ?? "—"],
        ["epochs", t.last_epoch === null ? "—" : t.last_epoch + 1],
        ["duration", fmtDuration(secondsBetween(t.started_at, t.finished_at))],
        ["stop reason", t.stop_reason ?? "—"],
        ...(t.bracket === null ? [] : [["bracket", t.bracket]]),
        ...(t.rung === null ? [] : [["highest rung", t.rung]]),
        ...(t.checkpoint_epoch === null ? [] : [["checkpoint at epoch", t.checkpoint_epoch]]),
        ...(t.origin_trial_id === null ? [] : [["re-test of trial id", t.origin_trial_id]]),
      ]),
      t.error ? [el("h3", {}, "Error"), el("pre", { class: "error" }, t.error)] : [],
      el("h3", {}, "Parameters"),
      table(Object.entries(t.params)),
      t.metrics ? [el("h3", {}, "Final metrics"), table(Object.entries(t.metrics))] : [],
      this.chart,
    ];
    this.root.replaceChildren(...children.flat().filter(Boolean));
    const Plotly = await loadPlotly();
    await Plotly.react(
      this.chart,
      [
        {
          type: "scatter",
          mode: "lines+markers",
          name: "dev accuracy",
          x: rows.map((r) => r.epoch),
          y: rows.map((r) => r.dev_accuracy),
        },
        {
          type: "scatter",
          mode: "lines+markers",
          name: "dev loss",
          yaxis: "y2",
          x: rows.map((r) => r.epoch),
          y: rows.map((r) => r.dev_loss),
        },
      ],
      layout({
        title: title("Learning curve"),
        showlegend: true,
        legend: { orientation: "h", y: -0.3 },
        xaxis: countAxis("epoch", rows.length - 1),
        yaxis: { title: title("dev accuracy") },
        yaxis2: { title: title("dev loss"), overlaying: "y", side: "right" },
        margin: { l: 52, r: 52, t: 32, b: 64 },
      }),
      CONFIG,
    );
  }
}
