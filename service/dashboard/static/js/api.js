// The REST API client (docs/api.md): JSON in, JSON out, errors as ApiError.

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

async function request(method, path, { query, body } = {}) {
  const url = new URL(`${PREFIX}${path}`, document.baseURI);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== null && value !== undefined) url.searchParams.set(key, String(value));
  }
  const init = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url, init);
  const text = await response.text();
  const parsed = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, explain(parsed, response.status));
  return parsed;
}

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
