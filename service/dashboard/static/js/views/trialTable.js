// The trial table: sortable by any column, filtered by state, paged, and
// re-rendering only the visible page when trials change.

import { el, fmtDuration, fmtNumber, secondsBetween } from "../format.js";
import { TRIAL_STATES } from "../states.js";

const PAGE_SIZE = 25;

function durationOf(trial) {
  return trial.started_at ? secondsBetween(trial.started_at, trial.finished_at) : null;
}

function stateCell(trial) {
  const reason = trial.stop_reason ? el("small", { class: "reason" }, trial.stop_reason) : null;
  return [el("span", { class: `state ${trial.status}` }, trial.status), reason];
}

/** Columns: header, sort key, cell content, CSS class. */
function columnsFor(paramNames, metric) {
  const columns = [
    { id: "number", label: "#", key: (t) => t.number, cell: (t) => t.number, cls: "num" },
    { id: "status", label: "state", key: (t) => t.status, cell: stateCell },
    {
      id: "value",
      label: metric,
      key: (t) => t.value,
      cell: (t) => fmtNumber(t.value),
      cls: "num",
    },
  ];
  for (const name of paramNames) {
    columns.push({
      id: `param:${name}`,
      label: name,
      key: (t) => t.params[name],
      cell: (t) => fmtNumber(t.params[name]),
      cls: "num",
    });
  }
  columns.push(
    {
      id: "epochs",
      label: "epochs",
      key: (t) => (t.last_epoch ?? -1) + 1,
      cell: (t) => (t.last_epoch === null ? "—" : t.last_epoch + 1),
      cls: "num",
    },
    { id: "worker", label: "worker", key: (t) => t.worker_id, cell: (t) => t.worker_id ?? "—" },
    {
      id: "duration",
      label: "duration",
      key: durationOf,
      cell: (t) => fmtDuration(durationOf(t)),
      cls: "num",
    },
    {
      id: "error",
      label: "error",
      key: (t) => t.error,
      cell: (t) => (t.error ? el("span", { class: "error", title: t.error }, t.error) : ""),
    },
  );
  return columns;
}

/** Ascending order with nulls last, numbers by value, the rest as strings. */
function compare(a, b) {
  if (a === b) return 0;
  if (a === null || a === undefined) return 1;
  if (b === null || b === undefined) return -1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

export class TrialTable {
  constructor(container, paramNames, metric, store, onSelect) {
    this.store = store;
    this.onSelect = onSelect;
    this.columns = columnsFor(paramNames, metric);
    this.sort = { id: "number", descending: true };
    this.filter = "";
    this.page = 0;
    this.sortedFor = null;
    this.build(container);
  }

  build(container) {
    this.filterSelect = el(
      "select",
      {
        "aria-label": "filter by state",
        onchange: () => {
          this.filter = this.filterSelect.value;
          this.page = 0;
          this.refresh();
        },
      },
      el("option", { value: "" }, "all states"),
      TRIAL_STATES.map((s) => el("option", { value: s }, s)),
    );
    this.info = el("span", { class: "page-info" });
    this.prev = el("button", { type: "button", onclick: () => this.turn(-1) }, "‹ prev");
    this.next = el("button", { type: "button", onclick: () => this.turn(1) }, "next ›");
    this.head = el(
      "tr",
      {},
      this.columns.map((column) =>
        el(
          "th",
          {
            class: column.cls,
            dataset: { column: column.id },
            title: "sort",
            onclick: () => this.sortBy(column.id),
          },
          column.label,
        ),
      ),
    );
    this.body = el("tbody");
    container.append(
      el("div", { class: "table-tools" }, this.filterSelect, this.prev, this.info, this.next),
      el(
        "div",
        { class: "table-scroll" },
        el("table", { class: "trials" }, el("thead", {}, this.head), this.body),
      ),
    );
    this.body.addEventListener("click", (event) => {
      const row = event.target.closest("tr[data-id]");
      if (row) this.onSelect(Number(row.dataset.id));
    });
    this.body.addEventListener("keydown", (event) => {
      const row = event.target.closest("tr[data-id]");
      if (row && event.key === "Enter") this.onSelect(Number(row.dataset.id));
    });
  }

  sortBy(id) {
    this.sort =
      this.sort.id === id
        ? { id, descending: !this.sort.descending }
        : { id, descending: id === "number" };
    this.page = 0;
    this.refresh();
  }

  turn(delta) {
    this.page += delta;
    this.refresh();
  }

  /** Trials filtered and sorted; recomputed only when the store or the order changed. */
  rows() {
    const key = `${this.store.version}|${this.sort.id}|${this.sort.descending}|${this.filter}`;
    if (key !== this.sortedFor) {
      const column = this.columns.find((c) => c.id === this.sort.id);
      const sign = this.sort.descending ? -1 : 1;
      let trials = this.store.all();
      if (this.filter) trials = trials.filter((t) => t.status === this.filter);
      const keyed = trials.map((t) => ({ k: column.key(t), t }));
      keyed.sort((a, b) => {
        const order = compare(a.k, b.k);
        if (a.k === null || a.k === undefined || b.k === null || b.k === undefined) return order;
        return sign * order || a.t.number - b.t.number;
      });
      this.sorted = keyed.map((entry) => entry.t);
      this.sortedFor = key;
    }
    return this.sorted;
  }

  /** Render the current page. */
  refresh() {
    const rows = this.rows();
    const pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
    this.page = Math.min(Math.max(0, this.page), pages - 1);
    const shown = rows.slice(this.page * PAGE_SIZE, (this.page + 1) * PAGE_SIZE);
    this.body.replaceChildren(
      ...shown.map((trial) =>
        el(
          "tr",
          {
            dataset: { id: trial.id, status: trial.status },
            tabindex: 0,
          },
          this.columns.map((column) =>
            el("td", { class: column.cls, dataset: { column: column.id } }, column.cell(trial)),
          ),
        ),
      ),
    );
    this.info.textContent = `page ${this.page + 1} of ${pages} · ${rows.length} trials`;
    this.prev.disabled = this.page === 0;
    this.next.disabled = this.page >= pages - 1;
    for (const th of this.head.children) {
      const active = th.dataset.column === this.sort.id;
      th.classList.toggle("sorted", active);
      th.dataset.direction = active ? (this.sort.descending ? "desc" : "asc") : "";
    }
  }
}
