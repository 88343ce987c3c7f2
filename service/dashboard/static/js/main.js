// The dashboard's entry point: hash routes to pages, and signing in and out.
//   #/               the searches list
//   #/searches/{id}  one search
// When the server requires tokens and this tab has none, or the server refuses it (a 401 to
// any request: the token was revoked), the sign-in view replaces the page; once signed in,
// the page of the current route is shown.

import { ApiError, whoami } from "./api.js";
import { el } from "./format.js";
import { loadPlotly } from "./charts/plot.js";
import { clear, notify } from "./notice.js";
import { mountSearchPage } from "./pages/searchPage.js";
import { mountSearchesPage } from "./pages/searchesPage.js";
import { mountSignIn } from "./pages/signIn.js";
import * as session from "./session.js";

const root = document.getElementById("app");
const who = document.getElementById("session");
let current = null;
let navigation = 0;
let signingIn = false;

function route(hash) {
  const match = /^#\/searches\/(\d+)\/?$/.exec(hash);
  if (match) return (view) => mountSearchPage(view, Number(match[1]));
  if (hash === "" || hash === "#" || hash === "#/") return (view) => mountSearchesPage(view);
  return null;
}

/** Stop the current page; later answers to its requests are dropped. */
function leave() {
  navigation += 1;
  if (current) current.unmount();
  current = null;
  delete document.body.dataset.ready;
}

async function navigate() {
  if (signingIn) return;
  leave();
  const mine = navigation;
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

/**
 * The top bar's account line: who is signed in, with a Sign out button; on a server without
 * tokens, a notice saying so; nothing while unknown or signed out.
 */
function showWho(me) {
  if (!me) {
    who.replaceChildren();
    who.hidden = true;
    return;
  }
  who.hidden = false;
  if (me.authentication === "open") {
    who.replaceChildren(
      el(
        "span",
        { class: "open", title: "This server runs without tokens: no sign-in." },
        "open server: no tokens",
      ),
    );
    return;
  }
  who.replaceChildren(
    el("span", { class: "who" }, me.name, " ", el("span", { class: "role" }, me.role)),
    el("button", { type: "button", class: "sign-out", onclick: signOut }, "Sign out"),
  );
}

/** Replace the page by the sign-in form (message: {text, kind} or null). */
function showSignIn(message) {
  leave();
  signingIn = true;
  showWho(null);
  clear();
  mountSignIn(root, message, (me) => {
    signingIn = false;
    showWho(me);
    navigate();
  });
  document.body.dataset.ready = "sign-in";
}

function signOut() {
  session.forget();
  showSignIn({ text: "Signed out.", kind: "info" });
}

// A 401: the server needs a token and the tab has none, or it refused the tab's token.
session.whenRefused((detail, hadToken) => {
  if (signingIn) return;
  showSignIn(hadToken ? { text: `Signed out: ${detail}. Sign in again.`, kind: "error" } : null);
});

/** Who the tab is, asked beside the page's first requests (so as not to delay them). */
async function greet() {
  try {
    const me = await whoami();
    if (me.authentication === "open") session.forget();
    if (!signingIn) showWho(me);
  } catch {
    // A 401 has shown the sign-in view; any other failure shows on the page as well.
  }
}

window.addEventListener("hashchange", navigate);
navigate();
greet();
// After the first API requests are on their way: the server answers them
// while the browser parses Plotly.
loadPlotly();
