// The search header: status, counts by state, progress against the budget,
// the best trial, and the Cancel and Download CSV buttons.

import { el, fmtAge, fmtNumber, fmtParams } from "../format.js";
import { SEARCH, TERMINAL, TRIAL_STATES } from "../states.js";

/** Trials that ended, out of the budget. */
export function progressOf(search) {
  const done = TERMINAL.reduce((sum, s) => sum + (search.counts[s] || 0), 0);
  return {
    done,
    total: search.max_trials,
    share: search.max_trials ? done / search.max_trials : 0,
  };
}

export class SearchHeader {
  constructor(container, { onCancel, onDownload, onPick }) {
    this.onCancel = onCancel;
    this.onPick = onPick;
    this.title = el("h1");
    this.status = el("span", { class: "status" });
    this.meta = el("p", { class: "meta" });
    this.counts = el("ul", { class: "counts" });
    this.bar = el("div", { class: "bar-fill" });
    this.progressText = el("span", { class: "progress-text" });
    this.best = el("div", { class: "best" });
    this.cancel = el(
      "button",
      { type: "button", class: "danger cancel", onclick: () => this.askCancel() },
      "Cancel search",
    );
    this.confirm = el(
      "span",
      { class: "confirm", hidden: true },
      "Cancel this search? ",
      el(
        "button",
        { type: "button", class: "danger confirm-yes", onclick: () => this.doCancel() },
        "Yes, cancel",
      ),
      el(
        "button",
        {
          type: "button",
          onclick: () => {
            this.confirm.hidden = true;
          },
        },
        "No",
      ),
    );
    const csv = el("button", { type: "button", class: "csv", onclick: onDownload }, "Download CSV");
    container.append(
      el(
        "section",
        { class: "search-header card" },
        el(
          "div",
          { class: "title-row" },
          this.title,
          this.status,
          el("div", { class: "actions" }, this.cancel, this.confirm, csv),
        ),
        this.meta,
        el("div", { class: "progress" }, el("div", { class: "bar" }, this.bar), this.progressText),
        this.counts,
        this.best,
      ),
    );
  }

  askCancel() {
    this.confirm.hidden = false;
  }

  async doCancel() {
    this.confirm.hidden = true;
    this.cancel.disabled = true;
    await this.onCancel();
    this.cancel.disabled = false;
  }

  update(search) {
    this.title.textContent = `${search.name} `;
    this.title.append(el("small", {}, `#${search.id}`));
    this.status.textContent = search.status;
    this.status.className = `status ${search.status}`;
    const spec = search.spec || {};
    this.meta.textContent = [
      `sampler ${spec.sampler?.kind ?? "?"}`,
      `early stopping ${spec.early_stopping?.kind ?? "none"}`,
      `objective ${spec.objective?.goal ?? ""} ${spec.objective?.metric ?? ""}`,
      `created ${fmtAge(search.created_at)}`,
    ].join(" · ");
    const progress = progressOf(search);
    this.bar.style.width = `${Math.min(100, 100 * progress.share).toFixed(1)}%`;
    const done = `${progress.done} of ${progress.total} trials done`;
    this.progressText.textContent = `${done} · ${search.n_trials} created`;
    this.counts.replaceChildren(
      ...TRIAL_STATES.map((state) =>
        el(
          "li",
          { class: `state ${state}` },
          `${state} `,
          el("b", { dataset: { count: state } }, search.counts[state] || 0),
        ),
      ),
    );
    const best = search.best_trial;
    this.best.replaceChildren(
      best
        ? el(
            "a",
            {
              href: "#",
              onclick: (event) => {
                event.preventDefault();
                this.onPick(best.id);
              },
            },
            el("span", { class: "label" }, "best "),
            el("b", { class: "best-value" }, fmtNumber(best.value)),
            ` trial #${best.number}: ${fmtParams(best.params)}`,
          )
        : el("span", { class: "muted" }, "no completed trial yet"),
    );
    const running = search.status === SEARCH.RUNNING;
    this.cancel.hidden = !running;
    if (!running) this.confirm.hidden = true;
  }
}
