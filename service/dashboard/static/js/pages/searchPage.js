// One search: header, best-so-far, learning curves, the rungs of ASHA and Hyperband,
// parameter importance, objective against each parameter, parallel coordinates, the
// re-test leaderboard and the trial table, all kept live by polling the `since` cursor
// until the search has ended.

import {
  cancelSearch,
  getImportance,
  getLeaderboard,
  getRungs,
  getSearch,
  getTrial,
  listTrials,
  trialsSince,
} from "../api.js";
import { BestSoFarChart } from "../charts/bestSoFar.js";
import { CurvesChart } from "../charts/curves.js";
import { ImportanceChart } from "../charts/importance.js";
import { ParallelChart } from "../charts/parallel.js";
import { purge } from "../charts/plot.js";
import { RungChart } from "../charts/rungs.js";
import { ScatterGrid } from "../charts/scatters.js";
import { el } from "../format.js";
import { KeyedRefresh } from "../keyedRefresh.js";
import { clear, notify } from "../notice.js";
import { Poller } from "../poller.js";
import { axesOf } from "../space.js";
import { TrialStore } from "../store.js";
import { CurveSet } from "../views/curveSet.js";
import { download, trialsCsv } from "../views/csv.js";
import { Leaderboard } from "../views/leaderboard.js";
import { SearchHeader } from "../views/searchHeader.js";
import { TrialPanel } from "../views/trialPanel.js";
import { TrialTable } from "../views/trialTable.js";
import { SEARCH, TERMINAL, TRIAL } from "../states.js";

const POLL_MS = 2000;
// The server refits its forest when a trial completes; with many workers that is every
// poll, so the chart asks at most this often.
const IMPORTANCE_MS = 10000;
const RUNG_RULES = ["asha", "hyperband"];

/** Every trial change after `cursor` (following has_more), and the cursor after them. */
async function pullChanges(searchId, cursor) {
  const items = [];
  for (;;) {
    const page = await trialsSince(searchId, cursor);
    items.push(...page.items);
    cursor = page.cursor;
    if (!page.has_more) return { items, cursor };
  }
}

function chartCard(className, ...children) {
  return el("figure", { class: `card ${className}` }, ...children);
}

class SearchPage {
  constructor(root, search) {
    this.root = root;
    this.search = search;
    const spec = search.spec;
    this.metric = spec.objective.metric;
    this.axes = axesOf(spec);
    this.store = new TrialStore(spec.objective.goal);
    const pick = (id) => this.panel.open(id).catch((error) => notify(error.message, "error"));
    this.panel = new TrialPanel(this.store);
    this.liveNote = el("span", { class: "live" }, "loading trials…");
    this.build(pick);
    this.buildFetched(pick);
  }

  build(pick) {
    const headerSlot = el("div");
    this.header = new SearchHeader(headerSlot, {
      onCancel: () => this.cancel(),
      onDownload: () =>
        download(
          `search-${this.search.id}-trials.csv`,
          trialsCsv(
            this.store.all(),
            this.axes.map((a) => a.name),
          ),
        ),
      onPick: pick,
    });
    const best = el("div", { class: "chart", id: "chart-best" });
    const accuracy = el("div", { class: "chart", id: "chart-curves-accuracy" });
    const loss = el("div", { class: "chart", id: "chart-curves-loss" });
    const scatters = el("div", { class: "chart", id: "scatters" });
    const parallel = el("div", { class: "chart tall", id: "chart-parallel" });
    const table = el("section", { class: "card table-card", id: "trial-table" });
    this.rungSlot = el("section", { id: "rungs" });
    this.importanceSlot = el("figure", { class: "card importance-card" });
    this.leaderboardSlot = el("section", { id: "leaderboard", hidden: true });
    this.root.replaceChildren(
      headerSlot,
      this.liveNote,
      el(
        "div",
        { class: "row three" },
        chartCard("best-card", best),
        chartCard("curves-card", accuracy),
        chartCard("curves-card", loss),
      ),
      el(
        "p",
        { class: "caption muted" },
        "Learning curves of the running trials, the 10 best and the latest stopped early: solid",
        " while running or completed, dotted and ending in × when pruned, dashed and ending in ×",
        " when stopped by the user or a cancel. Click a point for its trial.",
      ),
      this.rungSlot,
      el("h2", { class: "section" }, `${this.metric} against each parameter`),
      this.importanceSlot,
      chartCard("scatters-card", scatters),
      chartCard("parallel-card", parallel),
      this.leaderboardSlot,
      el("h2", { class: "section" }, "Trials"),
      table,
    );
    this.best = new BestSoFarChart(best, this.store, this.metric, pick);
    this.scatters = new ScatterGrid(scatters, this.axes, this.metric, this.store, pick);
    this.parallel = new ParallelChart(
      parallel,
      this.axes,
      this.metric,
      this.search.spec.objective.goal,
      this.store,
    );
    this.curves = new CurveSet(this.store, new CurvesChart(accuracy, loss, pick), getTrial);
    this.table = new TrialTable(
      table,
      this.axes.map((a) => a.name),
      this.metric,
      this.store,
      pick,
    );
  }

  /**
   * The views that fetch their own data (not the trials): the rungs of an ASHA or
   * Hyperband search, parameter importance, the re-test leaderboard. Each refetches only
   * when what it shows moved (see follow()), and the poll never waits for it.
   */
  buildFetched(pick) {
    const id = this.search.id;
    const report = (error) => notify(error.message, "error");
    const rule = this.search.spec.early_stopping || {};
    if (RUNG_RULES.includes(rule.kind)) {
      const div = el("div", { class: "chart tall", id: "chart-rungs" });
      this.rungSlot.append(
        el("h2", { class: "section" }, "Rungs"),
        chartCard("rungs-card", div),
        el(
          "p",
          { class: "caption muted" },
          "Each trial's value at each rung it reached (dotted lines), by what the rule made",
          " of it; a grey line joins a trial's rungs. Past 1,500 values, each rung shows its",
          " best values and a spread of the rest. Click a point for its trial.",
        ),
      );
      const options = {
        metric: this.metric,
        resume: Boolean(rule.resume),
        rankOf: (value) => this.store.rankOf(value),
      };
      const chart = new RungChart(div, options, pick);
      this.rungs = new KeyedRefresh(async () => chart.draw(await getRungs(id)), POLL_MS, report);
    }
    const importance = new ImportanceChart(this.importanceSlot);
    this.importance = new KeyedRefresh(
      async () => importance.draw(await getImportance(id)),
      IMPORTANCE_MS,
      report,
    );
    const leaderboard = new Leaderboard(this.leaderboardSlot, this.metric, pick);
    this.leaderboard = new KeyedRefresh(
      async () => leaderboard.show(await getLeaderboard(id)),
      POLL_MS,
      report,
    );
  }

  /**
   * Ask the fetching views for their data if what they show moved: the rungs when a
   * trial reached a rung, paused or resumed; importance when a trial completed; the
   * leaderboard, once the search has re-tests, when a trial completed or a re-test was
   * added or ended. They fetch in the background.
   */
  follow() {
    const completed = this.search.counts[TRIAL.COMPLETED] || 0;
    if (this.rungs) this.rungs.want(this.store.rungVersion);
    this.importance.want(completed);
    const retests = this.store.retests();
    if (retests.length) {
      this.leaderboardSlot.hidden = false;
      const ended = retests.filter((t) => TERMINAL.includes(t.status)).length;
      this.leaderboard.want(`${retests.length}:${ended}:${completed}`);
    }
  }

  /**
   * Draw what the short lists of running and best trials show while every
   * trial is still loading: the learning curves in full, and the best trials
   * on the WebGL charts, which sets those up ahead of the full draw.
   */
  preview(shortLists) {
    this.curves.preview(shortLists);
    const finished = this.search.counts.completed + this.search.counts.pruned;
    const best = shortLists.then((lists) => lists.best);
    best.catch(() => {});
    this.best.preview(best, finished);
    this.scatters.preview(best, finished);
  }

  /**
   * First full render of every trial (fetched alongside the search), then
   * mark the page ready and poll. The first poll runs even for an ended
   * search: it reads the search before the trials, so it sees every change
   * made before the search ended, and only then may polling stop.
   */
  async start(first) {
    this.store.cursor = first.cursor;
    const changed = this.store.merge(first.items);
    this.parallel.watch();
    await this.redraw(changed, (name) => performance.mark(`caviar:${name}`));
    this.showLive(this.live());
    performance.mark("caviar:ready");
    window.caviarReady = performance.now();
    document.body.dataset.ready = "search";
    this.follow();
    this.poller = new Poller(
      () => this.tick(),
      POLL_MS,
      (error) => notify(error.message, "error"),
    );
    this.pollTimer = setTimeout(() => this.poller.start(), POLL_MS);
  }

  /**
   * Header and table first (they need no Plotly), then every chart; mark(name)
   * is called as each is done (the first render sets performance marks).
   */
  async redraw(changed, mark = () => {}) {
    this.header.update(this.search);
    this.table.refresh();
    mark("table");
    const drawn = (name, promise) => promise.then(() => mark(name));
    await Promise.all([
      drawn("best", this.best.update()),
      drawn("scatters", this.scatters.update(changed, this.search.rounds)),
      this.parallel.update(),
      drawn("curves", this.curves.update()),
    ]);
  }

  /**
   * Keep polling while the search runs or any of its trials may still change.
   * Each poll reads the search before the trials, so once it has ended the
   * same poll has seen every trial change made before the end.
   */
  live() {
    return (
      this.search.status === SEARCH.RUNNING ||
      this.store.running().length > 0 ||
      this.store.all().some((t) => t.status === TRIAL.PENDING || t.status === TRIAL.PAUSED)
    );
  }

  showLive(on) {
    this.liveNote.textContent = on ? "● live" : `search ${this.search.status}: updates stopped`;
    this.liveNote.classList.toggle("on", on);
  }

  /** One poll: the search (counts, status, rounds) first, then what changed since the cursor. */
  async tick() {
    this.search = await getSearch(this.search.id);
    const { items, cursor } = await pullChanges(this.search.id, this.store.cursor);
    this.store.cursor = cursor;
    clear();
    const changed = this.store.merge(items);
    if (changed.length) {
      await this.redraw(changed);
      await this.panel.refresh();
    } else {
      this.header.update(this.search);
    }
    this.follow();
    const more = this.live();
    this.showLive(more);
    return more;
  }

  async cancel() {
    try {
      this.search = await cancelSearch(this.search.id);
      this.header.update(this.search);
      notify(`Search ${this.search.name} cancelled`);
    } catch (error) {
      notify(`Cancel failed: ${error.message}`, "error");
    }
  }

  unmount() {
    clearTimeout(this.pollTimer);
    if (this.poller) this.poller.stop();
    for (const refresh of [this.rungs, this.importance, this.leaderboard]) {
      if (refresh) refresh.stop();
    }
    this.panel.remove();
    this.parallel.dispose();
    this.scatters.dispose();
    for (const div of this.root.querySelectorAll(".js-plotly-plot")) purge(div);
  }
}

/**
 * Mount the page of search `id` into root; returns the page (with unmount()).
 *
 * Every trial comes in one long request (5 MB at 10,000 trials). It starts
 * first; beside it go the search and the short lists of running and best
 * trials, so the page's frame, header and learning curves are drawn while the
 * long request is still on its way.
 */
export async function mountSearchPage(root, id) {
  root.replaceChildren(el("p", { class: "muted" }, "Loading search…"));
  const everything = pullChanges(id, 0);
  const shortLists = Promise.all([
    listTrials(id, { status: TRIAL.RUNNING, limit: 100 }),
    listTrials(id, { status: TRIAL.COMPLETED, order: "value", limit: 10 }),
  ]).then(([running, best]) => ({ running: running.items, best: best.items }));
  // Handled here too, so that when the search does not exist its 404 is
  // reported once (by getSearch below), not as unhandled rejections.
  everything.catch(() => {});
  shortLists.catch(() => {});
  const search = await getSearch(id);
  const page = new SearchPage(root, search);
  page.header.update(search);
  page.preview(shortLists);
  try {
    const first = await everything;
    performance.mark("caviar:data");
    await page.start(first);
  } catch (error) {
    page.unmount();
    throw error;
  }
  return page;
}
