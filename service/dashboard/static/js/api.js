// The REST API client (docs/api.md): JSON in, JSON out, errors as ApiError. Every request
// carries this tab's token (session.js), if it has one, as `Authorization: Bearer`; a 401
// to it signs the tab out (main.js then shows the sign-in view).

import * as session from "./session.js";

const PREFIX = "api/v1";

/** An HTTP error from the API, carrying the status and the server's explanation. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

function explain(body, status) {
  const detail = body && body.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail.map((item) => `${(item.loc || []).join(".")}: ${item.msg}`).join("; ");
  }
  return `HTTP ${status}`;
}

/**
 * One API call. `token`: check this token instead of the tab's (the sign-in form); a 401
 * then only rejects, it does not sign the tab out.
 */
async function request(method, path, { query, body, token } = {}) {
  const url = new URL(`${PREFIX}${path}`, document.baseURI);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== null && value !== undefined) url.searchParams.set(key, String(value));
  }
  const init = { method, headers: { Accept: "application/json" } };
  const sent = token === undefined ? session.token() : token;
  if (sent) init.headers.Authorization = `Bearer ${sent}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url, init);
  const text = await response.text();
  const parsed = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const error = new ApiError(response.status, explain(parsed, response.status));
    if (response.status === 401 && token === undefined) session.refused(sent, error.message);
    throw error;
  }
  return parsed;
}

/** GET /whoami: who the tab's token (or `token`) is, and whether the server needs tokens. */
export const whoami = (token) => request("GET", "/whoami", { token });

/** GET /searches: one page, newest first. */
export const listSearches = (limit, offset) =>
  request("GET", "/searches", { query: { limit, offset } });

/** GET /searches/{id}. */
export const getSearch = (id) => request("GET", `/searches/${id}`);

/** POST /searches/{id}/cancel. */
export const cancelSearch = (id) => request("POST", `/searches/${id}/cancel`);

/** GET /searches/{id}/trials?status=&order=number|value&limit=: one page of trials. */
export const listTrials = (id, { status, order, limit }) =>
  request("GET", `/searches/${id}/trials`, { query: { status, order, limit } });

/** GET /searches/{id}/trials?since=cursor: what changed after the cursor. */
export const trialsSince = (id, since, limit = 10000) =>
  request("GET", `/searches/${id}/trials`, { query: { since, limit } });

/** GET /trials/{id}: one trial with its per-epoch rows. */
export const getTrial = (id) => request("GET", `/trials/${id}`);

/** POST /trials/{id}/stop. */
export const stopTrial = (id) => request("POST", `/trials/${id}/stop`);

/** GET /searches/{id}/rungs: the rungs of an ASHA or Hyperband search and the values at them. */
export const getRungs = (id) => request("GET", `/searches/${id}/rungs`);

/** GET /searches/{id}/importance: each parameter's share of the objective's variance. */
export const getImportance = (id) => request("GET", `/searches/${id}/importance`);

/** GET /searches/{id}/leaderboard: re-tested settings ranked by their mean. */
export const getLeaderboard = (id) => request("GET", `/searches/${id}/leaderboard`);
