// Parameter importance: each searched parameter's share of the objective's variance
// (fANOVA on the server's random forest of the completed trials), largest first, as bars
// in HTML (the vendored Plotly bundle has no bar traces, and a few bars need no Plotly).

import { el } from "../format.js";

const percent = (share) => `${(100 * share).toFixed(1)}%`;

export class ImportanceChart {
  /** Draws into `card`, which stays hidden until the first answer. */
  constructor(card) {
    this.card = card;
    this.title = el("figcaption", { class: "importance-title" });
    this.bars = el("ol", { class: "importance", id: "chart-importance" });
    card.hidden = true;
    card.append(this.title, this.bars);
  }

  /** Draw the importance answer, or say why there is none yet. */
  draw(answer) {
    this.card.hidden = false;
    if (answer.reason !== null) {
      this.title.textContent = `Parameter importance ${answer.reason}.`;
      this.bars.replaceChildren();
      return;
    }
    const explained = answer.parameters.reduce((sum, p) => sum + p.importance, 0);
    this.title.textContent =
      "Parameter importance: how much of the objective's variance each parameter explains " +
      `on its own (fANOVA on ${answer.finished_trials} completed trials; the rest, ` +
      `${percent(Math.max(0, 1 - explained))}, is interactions and noise)`;
    this.bars.replaceChildren(
      ...answer.parameters.map((p) =>
        el(
          "li",
          { dataset: { name: p.name, importance: p.importance } },
          el("span", { class: "name" }, p.name),
          el(
            "span",
            { class: "track" },
            el("span", { class: "fill", style: `width: ${percent(p.importance)}` }),
          ),
          el("span", { class: "share" }, percent(p.importance)),
        ),
      ),
    );
  }
}
