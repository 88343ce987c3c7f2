// The re-test leaderboard: settings re-trained with new seeds, ranked by the mean of their
// runs, with the spread, so that a setting that won once by luck shows as such.

import { el, fmtNumber, fmtParams } from "../format.js";

export class Leaderboard {
  constructor(container, metric, onPick) {
    this.onPick = onPick;
    this.body = el("tbody");
    container.append(
      el("h2", { class: "section" }, "Re-tests: settings ranked by their mean"),
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
      ),
    );
    this.body.addEventListener("click", (event) => {
      const row = event.target.closest("tr[data-id]");
      if (row) this.onPick(Number(row.dataset.id));
    });
  }

  /** Show the groups of GET /searches/{id}/leaderboard, best mean first. */
  show(groups) {
    this.body.replaceChildren(
      ...groups.map((group, rank) =>
        el(
          "tr",
          { dataset: { id: group.trial_id } },
          el("td", { class: "num" }, rank + 1),
          el("td", { class: "num" }, `#${group.number}`),
          el("td", { class: "num" }, `${fmtNumber(group.mean)} ± ${fmtNumber(group.std)}`),
          el("td", { class: "num" }, group.runs),
          el("td", { class: "values" }, group.values.map(fmtNumber).join(", ")),
          el("td", { class: "params" }, fmtParams(group.params)),
        ),
      ),
    );
  }
}
