// This tab's API token (`caviar token create`; service/auth): kept in sessionStorage, so
// it lives in this tab only and is gone when the tab closes; never in localStorage, a
// cookie or a URL. The browser never sends it on its own (there is no cookie), so there
// is no CSRF surface: api.js adds it as `Authorization: Bearer` to each request it makes.

const KEY = "caviar.token";

let onRefused = () => {};

/** The token this tab signed in with, or null. */
export function token() {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null; // storage blocked by the browser's settings: signed out
  }
}

/** Keep a token the server accepted (GET /whoami) for this tab. */
export function keep(value) {
  sessionStorage.setItem(KEY, value);
}

/** Forget this tab's token (sign out). */
export function forget() {
  sessionStorage.removeItem(KEY);
}

/** handler(detail, hadToken) runs when the server refuses this tab's token, or its lack of one. */
export function whenRefused(handler) {
  onRefused = handler;
}

/**
 * The server answered 401 to a request sent with `sent` (a token or null): forget the token
 * and tell the page, unless the tab has signed in or out since the request left (then the
 * answer is about a token the tab no longer uses).
 */
export function refused(sent, detail) {
  if (sent !== token()) return;
  forget();
  onRefused(detail, sent !== null);
}
