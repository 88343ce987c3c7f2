// The re-test leaderboard: settings re-trained with new seeds, ranked by the mean of their
// runs, with the spread, so that a setting that won once by luck shows as such.

import { el, fmtNumber, fmtParams } from "../format.js";

/** "mean ± std", or the mean alone for a single run (its std is null). */
function spread(entry) {
  const mean = fmtNumber(entry.mean);
  return entry.std === null ? mean : `${mean} ± ${fmtNumber(entry.std)}`;
}

export class Leaderboard {
  constructor(container, metric, onPick) {
    this.onPick = onPick;
    this.body = el("tbody");
    this.info = el("p", { class: "caption muted" });
    container.append(
      el("h2", { class: "section" }, "Re-tests: settings ranked by the mean of their runs"),
      el(
        "div",
        { class: "card table-scroll" },
        el(
          "table",
          { class: "leaderboard" },
          el(
            "thead",
            {},
            el(
              "tr",
              {},
              el("th", { class: "num" }, "rank"),
              el("th", { class: "num" }, "trial"),
              el("th", { class: "num" }, `${metric} mean ± std`),
              el("th", { class: "num" }, "runs"),
              el("th", {}, "values"),
              el("th", {}, "params"),
            ),
          ),
          this.body,
        ),
        this.info,
      ),
    );
    this.body.addEventListener("click", (event) => {
      const row = event.target.closest("tr[data-id]");
      if (row) this.onPick(Number(row.dataset.id));
    });
  }

  /** Show the answer of GET /searches/{id}/leaderboard: its best settings, best mean first. */
  show(answer) {
    this.body.replaceChildren(
      ...answer.items.map((entry, rank) =>
        el(
          "tr",
          { dataset: { id: entry.trial_id } },
          el("td", { class: "num" }, rank + 1),
          el("td", { class: "num" }, `#${entry.number}`),
          el("td", { class: "num" }, spread(entry)),
          el("td", { class: "num" }, entry.runs),
          el("td", { class: "values" }, entry.values.map(fmtNumber).join(", ")),
          el("td", { class: "params" }, fmtParams(entry.params)),
        ),
      ),
    );
    this.info.textContent =
      `The best ${answer.items.length} of ${answer.total} settings: each trial the sampler ` +
      "proposed with its completed re-tests (new seeds); with few runs, the mean leans to " +
      "the lucky side.";
  }
}
