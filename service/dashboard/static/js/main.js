// The dashboard's entry point: hash routes to pages.
//   #/               the searches list
//   #/searches/{id}  one search

import { ApiError } from "./api.js";
import { el } from "./format.js";
import { loadPlotly } from "./charts/plot.js";
import { notify } from "./notice.js";
import { mountSearchPage } from "./pages/searchPage.js";
import { mountSearchesPage } from "./pages/searchesPage.js";

const root = document.getElementById("app");
let current = null;
let navigation = 0;

function route(hash) {
  const match = /^#\/searches\/(\d+)\/?$/.exec(hash);
  if (match) return (view) => mountSearchPage(view, Number(match[1]));
  if (hash === "" || hash === "#" || hash === "#/") return (view) => mountSearchesPage(view);
  return null;
}

async function navigate() {
  navigation += 1;
  const mine = navigation;
  if (current) current.unmount();
  current = null;
  delete document.body.dataset.ready;
  const mount = route(location.hash);
  if (!mount) {
    root.replaceChildren(
      el("p", {}, "No such page. ", el("a", { href: "#/" }, "Back to searches")),
    );
    return;
  }
  // Each navigation renders into its own element, so a slow earlier page
  // that finishes loading late writes into a detached node, not over this one.
  const view = el("div", { class: "view" });
  root.replaceChildren(view);
  try {
    const page = await mount(view);
    if (mine === navigation) current = page;
    else page.unmount();
  } catch (error) {
    if (mine !== navigation) return;
    const message =
      error instanceof ApiError && error.status === 404
        ? "This search does not exist."
        : `Could not load the page: ${error.message}`;
    view.replaceChildren(
      el("p", { class: "error" }, message, " ", el("a", { href: "#/" }, "Back to searches")),
    );
    notify(message, "error");
  }
}

window.addEventListener("hashchange", navigate);
navigate();
// After the first API requests are on their way: the server answers them
// while the browser parses Plotly.
loadPlotly();
