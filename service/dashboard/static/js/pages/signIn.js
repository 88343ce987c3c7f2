// The sign-in view, shown when the server requires a token and this tab has none (or the
// server refused it): a token field and a button. The token is checked with GET /whoami and
// kept for this tab only (session.js); it is never put in the URL or the log.

import { whoami } from "../api.js";
import { el } from "../format.js";
import * as session from "../session.js";

/**
 * Mount the sign-in form into root. `message`: why the tab is signed out ({text, kind},
 * kind "error" or "info"), or null. onSignedIn(me) runs with /whoami's answer once the
 * server accepted the token and the tab keeps it.
 */
export function mountSignIn(root, message, onSignedIn) {
  // No name: the field is never part of a form submission, so the token cannot end up
  // in a URL even if the submit handler did not run.
  const input = el("input", {
    type: "password",
    id: "token",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    "aria-describedby": "sign-in-status",
  });
  const button = el("button", { type: "submit", class: "primary" }, "Sign in");
  const status = el("p", { id: "sign-in-status", role: "status" });
  const say = (text, kind) => {
    status.textContent = text || "";
    status.className = `sign-in-status ${kind || ""}`;
    status.hidden = !text;
  };
  say(message && message.text, message && message.kind);

  async function submit(event) {
    event.preventDefault();
    const candidate = input.value.trim();
    if (!candidate) {
      say("Paste a token first.", "error");
      return;
    }
    button.disabled = true;
    say("Checking the token…", "muted");
    try {
      const me = await whoami(candidate);
      if (me.authentication === "tokens") session.keep(candidate);
      input.value = "";
      onSignedIn(me);
    } catch (error) {
      say(`Sign-in failed: ${error.message}`, "error");
      button.disabled = false;
      input.select();
    }
  }

  root.replaceChildren(
    el(
      "section",
      { class: "card sign-in" },
      el("h1", {}, "Sign in"),
      el(
        "p",
        { class: "muted" },
        "This server requires an API token. Ask its admin for one (",
        el("code", {}, "caviar token create --role user --name NAME"),
        ").",
      ),
      el(
        "form",
        { method: "post", autocomplete: "off", onsubmit: submit },
        el("label", { for: "token" }, "Token"),
        el("div", { class: "sign-in-row" }, input, button),
      ),
      status,
      el(
        "p",
        { class: "muted small" },
        "The token stays in this tab only (session storage) until you sign out or close",
        " the tab.",
      ),
    ),
  );
  input.focus();
}
