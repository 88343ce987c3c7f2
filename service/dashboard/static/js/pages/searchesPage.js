// The searches list: name, status, progress, best value and age, newest
// first, refreshed every 2 s.

import { listSearches } from "../api.js";
import { el, fmtAge, fmtNumber } from "../format.js";
import { clear, notify } from "../notice.js";
import { Poller } from "../poller.js";
import { progressOf } from "../views/searchHeader.js";

const POLL_MS = 2000;
const PAGE_SIZE = 50;

function row(search) {
  const progress = progressOf(search);
  const href = `#/searches/${search.id}`;
  return el(
    "tr",
    { dataset: { id: search.id, status: search.status } },
    el("td", { class: "num" }, search.id),
    el("td", {}, el("a", { href }, search.name)),
    el("td", {}, el("span", { class: `status ${search.status}` }, search.status)),
    el(
      "td",
      { class: "progress-cell" },
      el(
        "div",
        { class: "bar" },
        el("div", {
          class: "bar-fill",
          style: `width: ${Math.min(100, 100 * progress.share).toFixed(1)}%`,
        }),
      ),
      el("small", {}, `${progress.done} / ${progress.total}`),
    ),
    el("td", { class: "num" }, fmtNumber(search.best_trial ? search.best_trial.value : null)),
    el(
      "td",
      { class: "muted" },
      `${search.spec?.objective?.goal ?? ""} ${search.spec?.objective?.metric ?? ""}`,
    ),
    el("td", {}, fmtAge(search.created_at)),
  );
}

class SearchesPage {
  constructor(root) {
    this.offset = 0;
    this.body = el("tbody");
    this.info = el("span", { class: "page-info" });
    this.prev = el("button", { type: "button", onclick: () => this.turn(-PAGE_SIZE) }, "‹ newer");
    this.next = el("button", { type: "button", onclick: () => this.turn(PAGE_SIZE) }, "older ›");
    root.replaceChildren(
      el(
        "section",
        { class: "card" },
        el("h1", {}, "Searches"),
        el(
          "div",
          { class: "table-scroll" },
          el(
            "table",
            { class: "searches" },
            el(
              "thead",
              {},
              el(
                "tr",
                {},
                ["#", "name", "status", "progress", "best", "objective", "age"].map((h) =>
                  el("th", {}, h),
                ),
              ),
            ),
            this.body,
          ),
        ),
        el("div", { class: "table-tools" }, this.prev, this.info, this.next),
      ),
    );
    this.body.addEventListener("click", (event) => {
      const tr = event.target.closest("tr[data-id]");
      if (tr && !event.target.closest("a")) location.hash = `#/searches/${tr.dataset.id}`;
    });
  }

  async start() {
    await this.tick();
    document.body.dataset.ready = "searches";
    this.poller = new Poller(
      () => this.tick(),
      POLL_MS,
      (error) => notify(error.message, "error"),
    );
    this.pollTimer = setTimeout(() => this.poller.start(), POLL_MS);
  }

  async turn(delta) {
    this.offset = Math.max(0, this.offset + delta);
    await this.tick();
  }

  async tick() {
    const page = await listSearches(PAGE_SIZE, this.offset);
    clear();
    this.body.replaceChildren(
      ...(page.items.length
        ? page.items.map(row)
        : [
            el(
              "tr",
              {},
              el(
                "td",
                { colspan: 7, class: "muted" },
                "No search yet: create one with `caviar submit SPEC.yaml`.",
              ),
            ),
          ]),
    );
    const last = Math.min(page.total, this.offset + page.items.length);
    this.info.textContent = page.total ? `${this.offset + 1}–${last} of ${page.total}` : "";
    this.prev.disabled = this.offset === 0;
    this.next.disabled = last >= page.total;
    return true;
  }

  unmount() {
    clearTimeout(this.pollTimer);
    if (this.poller) this.poller.stop();
  }
}

/** Mount the searches list into root; returns the page (with unmount()). */
export async function mountSearchesPage(root) {
  const page = new SearchesPage(root);
  await page.start();
  return page;
}
