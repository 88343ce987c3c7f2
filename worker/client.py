"""A typed HTTP client for the Caviar server: the worker protocol and the user's routes.

Usable on its own (the worker, the CLI and user code share it). Every call has a
timeout. Connection errors and 5xx answers are retried with exponential backoff
and full jitter; 4xx answers never are. A 409 from a worker write raises
`LeaseLost` (the worker must drop the trial); any other 4xx raises `ApiError`
carrying the server's JSON `detail`. When retries run out, `ServerUnavailable`.

The worker protocol's bodies are domain.protocol's models, the server's own: a
request is built from them (a value the server would refuse raises `InvalidRequest`,
an ApiError with the 422's detail, before anything is sent), and an answer is
parsed into them (one that does not fit raises `UnexpectedAnswer`).
"""

from __future__ import annotations

import hashlib
import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from domain.error_format import error_line
from domain.protocol import (
    WORKER_KEEP_ALIVE_SECONDS,
    Action,
    Assignment,
    ClaimRequest,
    CompleteRequest,
    FailRequest,
    HeartbeatRequest,
    ReportRequest,
    RequestBody,
)

API = "/api/v1"
TOKEN_ENV = "CAVIAR_TOKEN"
"""The environment variable the CLI and `caviar worker` read their API token from."""
AnswerT = TypeVar("AnswerT", bound=BaseModel)


class ClientError(Exception):
    """Base of every error this client raises."""


class ServerUnavailable(ClientError):
    """The server could not be reached, or kept answering 5xx, after every retry."""


class ApiError(ClientError):
    """A 4xx answer: `status` and the server's `detail` (a sentence or a list of errors)."""

    def __init__(self, status: int, detail: Any, method: str, path: str) -> None:
        self.status = status
        self.detail = detail
        self.method = method
        self.path = path
        super().__init__(f"{method} {path} -> {status}: {format_detail(detail)}")

    def messages(self) -> list[str]:
        """One line per error: `field: rule` for validation errors, else the sentence."""
        if isinstance(self.detail, list):
            return [error_line(item) for item in self.detail]
        return [format_detail(self.detail)]


class LeaseLost(ApiError):
    """409: the lease token is no longer the trial's current one; drop the trial."""


class InvalidRequest(ApiError):
    """A request the server would refuse with 422, refused before sending it."""


class UnexpectedAnswer(ClientError):
    """A 2xx answer whose body is not what the protocol says (another server or version)."""


def format_detail(detail: Any) -> str:
    """The server's `detail` as one line."""
    if isinstance(detail, list):
        return "; ".join(error_line(item) for item in detail)
    return str(detail)


def _object(response: httpx.Response) -> dict[str, Any]:
    """The JSON object of an answer (every route of the API answers one)."""
    data = response.json()
    if not isinstance(data, dict):
        raise UnexpectedAnswer(f"{_called(response)}: expected a JSON object, got "
                               f"{type(data).__name__}")
    return data


def _parse(response: httpx.Response, answer: type[AnswerT]) -> AnswerT:
    """A protocol answer parsed into its model."""
    try:
        return answer.model_validate_json(response.content)
    except ValidationError as error:
        raise UnexpectedAnswer(f"{_called(response)}: not an {answer.__name__}: {error}"
                               ) from None


def _called(response: httpx.Response) -> str:
    return f"{response.request.method} {response.request.url.path}"


def _server_error(response: httpx.Response) -> str:
    """A 5xx as one line, with the server's `detail` when it sent one: a worker's log then
    says why the server could not answer ("database or disk is full"), not only that."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    reason = f": {format_detail(detail)}" if detail else ""
    return f"server error {response.status_code}{reason}"


MAX_RETRY_AFTER = 60.0
REQUEST_TIMEOUT = 10.0
"""Seconds a request may take (connect, and each read or write) before it is retried."""


def _retry_after(response: httpx.Response | None) -> float:
    """The seconds a 429's Retry-After asks for (at most MAX_RETRY_AFTER), else 0."""
    text = "" if response is None else response.headers.get("Retry-After", "")
    try:
        return min(MAX_RETRY_AFTER, max(0.0, float(text)))
    except ValueError:
        return 0.0


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: attempt n waits U(0, min(cap, base * 2**n)).

    `attempts` counts every try (1 = no retry); None retries until it succeeds.
    """

    attempts: int | None = 5
    base: float = 0.2
    cap: float = 5.0

    def delay(self, retry: int, rng: random.Random) -> float:
        """Seconds to wait before retry number `retry` (0 for the first retry)."""
        return rng.uniform(0, min(self.cap, self.base * 2**retry))


@dataclass(frozen=True)
class TrialChanges:
    """One `since` poll: the trials changed after the cursor, the next cursor, more to fetch."""

    items: list[dict[str, Any]]
    cursor: int
    has_more: bool


class CaviarClient:
    """HTTP client for one Caviar server (base URL without `/api/v1`)."""

    def __init__(self, base_url: str, timeout: float = REQUEST_TIMEOUT,
                 retry: RetryPolicy | None = None,
                 transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep, seed: int | None = None,
                 token: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._rng = random.Random(seed)
        headers = {"Authorization": f"Bearer {token}"} if token else None
        self._http = httpx.Client(
            base_url=self.base_url, timeout=timeout, transport=transport, headers=headers,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20,
                                keepalive_expiry=WORKER_KEEP_ALIVE_SECONDS))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> CaviarClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # The transport: one request with the retry policy.

    def request(self, method: str, path: str, *, json: Any = None, params: Any = None,
                files: Any = None, data: Any = None, content: bytes | None = None,
                idempotent: bool = True, retry: RetryPolicy | None = None) -> httpx.Response:
        """Send one request; retry connection errors, 5xx and 429; raise on other 4xx.

        A non-idempotent request (creating a search, uploading) is retried only when
        it cannot have been processed: a failed connect, a 503 or a 429. After a 429
        the client waits at least the answer's Retry-After.
        """
        policy = retry or self.retry
        tries = 0
        while True:
            response, problem, retryable = self._try_once(method, path, json, params, files,
                                                          data, content, idempotent)
            if response is not None and response.status_code != 429:
                return response
            tries += 1
            if response is not None and (policy.attempts is not None
                                         and tries >= policy.attempts):
                raise self._api_error(response, method, path)
            if not retryable or (policy.attempts is not None and tries >= policy.attempts):
                raise ServerUnavailable(
                    f"{method} {self.base_url}{path}: {problem} (after {tries} tries)"
                )
            self._sleep(max(policy.delay(tries - 1, self._rng), _retry_after(response)))

    def _try_once(self, method: str, path: str, json: Any, params: Any, files: Any, data: Any,
                  content: bytes | None, idempotent: bool
                  ) -> tuple[httpx.Response | None, str, bool]:
        """(the final response or a 429, or None with what went wrong; whether to retry)."""
        try:
            response = self._http.request(method, path, json=json, params=params,
                                          files=files, data=data, content=content)
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            return None, f"cannot connect ({error})", True
        except httpx.TransportError as error:
            return None, f"{type(error).__name__} ({error})", idempotent
        if response.status_code >= 500:
            retryable = idempotent or response.status_code == 503
            return None, _server_error(response), retryable
        if response.status_code == 429:
            return response, "too many requests", True
        if response.status_code >= 400:
            raise self._api_error(response, method, path)
        return response, "", False

    @staticmethod
    def _api_error(response: httpx.Response, method: str, path: str) -> ApiError:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        kind = LeaseLost if response.status_code == 409 else ApiError
        return kind(response.status_code, detail, method, path)

    def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return _object(self.request(method, API + path, **kwargs))

    def _post(self, path: str, body: type[RequestBody], fields: dict[str, Any],
              retry: RetryPolicy | None = None) -> httpx.Response:
        """POST a protocol request, its body built from its model and fields."""
        try:
            request = body.model_validate(fields)
        except ValidationError as error:
            detail = [{"loc": ["body", *item["loc"]], "msg": item["msg"], "type": item["type"]}
                      for item in error.errors()]
            raise InvalidRequest(422, detail, "POST", API + path) from None
        return self.request("POST", API + path, json=request.model_dump(exclude_none=True),
                            retry=retry)

    # The worker protocol.

    def claim(self, worker_id: str, search_id: int | None = None) -> Assignment | None:
        """A trial to train, or None when there is no work (204).

        The claim carries a new key, the same in its retries: a retry whose first answer
        was lost gets the trial that answer held rather than a second one."""
        response = self._post("/trials/claim", ClaimRequest,
                              {"worker_id": worker_id, "search_id": search_id,
                               "claim_key": uuid.uuid4().hex})
        return None if response.status_code == 204 else _parse(response, Assignment)

    def heartbeat(self, trial_id: int, lease_token: str) -> Action:
        """Extend the lease; the server says whether to go on."""
        return _parse(self._post(f"/trials/{trial_id}/heartbeat", HeartbeatRequest,
                                 {"lease_token": lease_token}), Action)

    def report(self, trial_id: int, lease_token: str, epoch: int,
               metrics: Mapping[str, float | None]) -> Action:
        """Report one epoch's metrics."""
        fields = {"lease_token": lease_token, "epoch": epoch, "metrics": dict(metrics)}
        return _parse(self._post(f"/trials/{trial_id}/report", ReportRequest, fields), Action)

    def report_epochs(self, trial_id: int, lease_token: str,
                      reports: Sequence[tuple[int, Mapping[str, float | None]]]) -> Action:
        """Report several epochs, in increasing order, in one request (the batched form)."""
        entries = [{"epoch": epoch, "metrics": dict(metrics)} for epoch, metrics in reports]
        fields = {"lease_token": lease_token, "reports": entries}
        return _parse(self._post(f"/trials/{trial_id}/report", ReportRequest, fields), Action)

    def complete(self, trial_id: int, lease_token: str, metrics: Mapping[str, float | None],
                 retry: RetryPolicy | None = None) -> dict[str, Any]:
        """The trial's final metrics; the answer is the Trial."""
        fields = {"lease_token": lease_token, "metrics": dict(metrics)}
        return _object(self._post(f"/trials/{trial_id}/complete", CompleteRequest, fields,
                                  retry))

    def fail(self, trial_id: int, lease_token: str, error: str, retry_trial: bool = False,
             retry: RetryPolicy | None = None) -> dict[str, Any]:
        """Report a failed trial; `retry_trial` gives it back to be run again at once."""
        fields = {"lease_token": lease_token, "error": error, "retry": retry_trial}
        return _object(self._post(f"/trials/{trial_id}/fail", FailRequest, fields, retry))

    def upload_checkpoint(self, trial_id: int, lease_token: str, epoch: int, data: bytes
                          ) -> dict[str, Any]:
        """Store the checkpoint of a trial told to pause (its state after `epoch` epochs);
        the answer is the paused Trial."""
        params = {"lease_token": lease_token, "epoch": epoch,
                  "sha256": hashlib.sha256(data).hexdigest()}
        return _object(self.request("PUT", f"{API}/trials/{trial_id}/checkpoint", params=params,
                                    content=data))

    def download_checkpoint(self, url: str, lease_token: str, sha256: str) -> bytes:
        """A promoted trial's checkpoint, checked against its SHA-256; UnexpectedAnswer if
        the bytes are not the ones announced."""
        data = self.request("GET", url, params={"lease_token": lease_token}).content
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise UnexpectedAnswer(f"GET {url}: the checkpoint's SHA-256 is {actual}, not the "
                                   f"{sha256} announced")
        return data

    def download(self, url: str) -> tuple[bytes, str | None]:
        """An uploaded dataset's bytes and the server's `X-Caviar-SHA256` header."""
        response = self.request("GET", url)
        return response.content, response.headers.get("X-Caviar-SHA256")

    # Searches, trials and datasets.

    def create_search(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        return self._json("POST", "/searches", json=dict(spec), idempotent=False)

    def list_searches(self, limit: int = 50, offset: int = 0,
                      status: str | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if status:
            params["status"] = status
        return self._json("GET", "/searches", params=params)

    def get_search(self, search_id: int) -> dict[str, Any]:
        return self._json("GET", f"/searches/{search_id}")

    def cancel_search(self, search_id: int) -> dict[str, Any]:
        return self._json("POST", f"/searches/{search_id}/cancel")

    def retest(self, search_id: int, top: int, seeds: int) -> dict[str, Any]:
        """Re-test the search's best `top` trials with `seeds` new seeds each (not idempotent:
        each call adds trials)."""
        return self._json("POST", f"/searches/{search_id}/retest",
                          json={"top": top, "seeds": seeds}, idempotent=False)

    def leaderboard(self, search_id: int, limit: int = 20) -> dict[str, Any]:
        return self._json("GET", f"/searches/{search_id}/leaderboard", params={"limit": limit})

    def list_trials(self, search_id: int, status: str | None = None, limit: int = 10_000,
                    offset: int = 0, order: str = "number") -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit, "offset": offset, "order": order}
        if status:
            params["status"] = status
        return self._json("GET", f"/searches/{search_id}/trials", params=params)

    def trials_since(self, search_id: int, cursor: int, limit: int = 5000) -> TrialChanges:
        data = self._json("GET", f"/searches/{search_id}/trials",
                          params={"since": cursor, "limit": limit})
        return TrialChanges(data["items"], int(data["cursor"]), bool(data.get("has_more")))

    def get_trial(self, trial_id: int) -> dict[str, Any]:
        return self._json("GET", f"/trials/{trial_id}")

    def stop_trial(self, trial_id: int) -> dict[str, Any]:
        return self._json("POST", f"/trials/{trial_id}/stop")

    def upload_dataset(self, filename: str, content: bytes, name: str | None = None,
                       label_column: str = "label") -> dict[str, Any]:
        form = {"label_column": label_column}
        if name:
            form["name"] = name
        return self._json("POST", "/datasets", files={"file": (filename, content)},
                          data=form, idempotent=False)

    def list_datasets(self) -> dict[str, Any]:
        return self._json("GET", "/datasets")

    # Tokens (an admin's) and the caller.

    def create_token(self, name: str, role: str, owner: str | None = None) -> dict[str, Any]:
        """A new token: its description and `token`, which the server shows this once."""
        return self._json("POST", "/tokens", json={"name": name, "role": role, "owner": owner},
                          idempotent=False)

    def list_tokens(self) -> dict[str, Any]:
        return self._json("GET", "/tokens")

    def revoke_token(self, token_id: int) -> dict[str, Any]:
        return self._json("POST", f"/tokens/{token_id}/revoke")

    def whoami(self) -> dict[str, Any]:
        return self._json("GET", "/whoami")
