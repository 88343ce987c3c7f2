"""JSON views of stored rows, built as plain dicts (the shapes of docs/api.md).

They read attributes, so they work on ORM objects and on selected rows alike.
Listings of trials are the exception: their rows arrive as JSON text from the
database (service.store.trial_json) and are joined into the body's bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from domain.lifecycle.states import TrialStatus
from service.api.schemas import TRIAL_FIELDS
from service.auth.tokens import TokenInfo
from service.store.importance_view import Importance
from service.store.lifecycle import Claimed, Instruction
from service.store.retests import Ranked
from service.store.rung_view import RungView
from service.store.searches import SearchView


def iso(moment: datetime | None) -> str | None:
    """A stored naive UTC datetime as an ISO 8601 string with Z, or None."""
    return None if moment is None else moment.isoformat(timespec="milliseconds") + "Z"


def trial_json(trial: Any) -> dict[str, Any]:
    """A Trial (the fields of schemas.TrialOut, without its intermediate rows), from a record
    or a row."""
    shape = {}
    for name in TRIAL_FIELDS:
        value = getattr(trial, name)
        shape[name] = iso(value) if isinstance(value, datetime) else value
    return shape


def trial_list_body(rows: Iterable[Any], **fields: Any) -> bytes:
    """`{"items": [Trial...], **fields}` as UTF-8 JSON, from rows of (json_head, value, json_tail).

    The value is written as `json.dumps` writes a float (its repr). Each item is
    encoded on its own: one non-ASCII character would otherwise widen the whole
    body's string before its encoding.
    """
    items = b",".join([f"{head}{'null' if value is None else repr(value)}{tail}".encode()
                       for head, value, tail, *_ in rows])
    rest = json.dumps(fields, separators=(",", ":"))[1:]  # '"cursor":3,...}', or '}'
    return b'{"items":[' + items + (b"]," if fields else b"]") + rest.encode()


def intermediate_json(row: Any) -> dict[str, Any]:
    """One epoch's report: the epoch and its metrics."""
    return {"epoch": row.epoch, **row.metrics}


def search_json(view: SearchView) -> dict[str, Any]:
    """A Search with counts, best trial and cursor."""
    search = view.search
    return {
        "id": search.id,
        "name": search.name,
        "spec": search.spec,
        "status": search.status,
        "created_at": iso(search.created_at),
        "updated_at": iso(search.updated_at),
        "finished_at": iso(search.finished_at),
        "counts": {status: getattr(search, f"count_{status}") for status in TrialStatus},
        "n_trials": search.n_trials,
        "max_trials": search.max_trials,
        "best_trial": None if view.best is None else trial_json(view.best),
        "cursor": search.last_seq,
        "rounds": search.rounds,
        "owner": search.owner,
    }


def leaderboard_json(ranked: Iterable[Ranked], total: int) -> dict[str, Any]:
    """A Leaderboard: the best settings by the mean of their runs (schemas.Leaderboard)."""
    return {"items": [{
        "trial_id": entry.group.trial_id,
        "number": entry.group.number,
        "params": entry.params,
        "runs": entry.group.runs,
        "mean": entry.group.mean,
        "std": entry.group.std,
        "values": list(entry.group.values),
        "trial_ids": list(entry.group.trial_ids),
    } for entry in ranked], "total": total}


def dataset_json(row: Any) -> dict[str, Any]:
    """A Dataset's description (never its bytes)."""
    return {
        "id": row.id,
        "name": row.name,
        "format": row.format,
        "label_column": row.label_column,
        "sha256": row.sha256,
        "n_samples": row.n_samples,
        "n_features": row.n_features,
        "n_classes": row.n_classes,
        "bytes": row.bytes,
        "created_at": iso(row.created_at),
        "owner": row.owner,
    }


def dataset_ref_json(spec: dict[str, Any], uploaded: Any | None) -> dict[str, Any]:
    """Where a worker gets the search's data: a built-in by name, or an upload to download."""
    if uploaded is not None:
        return {
            "kind": "uploaded", "id": uploaded.id, "name": uploaded.name,
            "format": uploaded.format, "label_column": uploaded.label_column,
            "sha256": uploaded.sha256, "url": f"/api/v1/datasets/{uploaded.id}/data",
        }
    dataset = spec["dataset"]
    if isinstance(dataset, str):
        return {"kind": "builtin", "name": dataset, "options": {}}
    return {"kind": "builtin", "name": dataset["name"], "options": dataset.get("options") or {}}


def assignment_json(claimed: Claimed, uploaded: Any | None, heartbeat_seconds: float
                    ) -> dict[str, Any]:
    """What a worker needs to train a claimed trial."""
    trial, spec = claimed.trial, claimed.spec
    return {
        "trial_id": trial.id,
        "search_id": trial.search_id,
        "number": trial.number,
        "attempt": trial.attempt,
        "params": {**(spec.get("fixed") or {}), **trial.params},
        "dataset": dataset_ref_json(spec, uploaded),
        "split": spec["split"],
        "objective": spec["objective"],
        "lease_token": trial.lease_token,
        "lease_expires_at": iso(trial.lease_expires_at),
        "heartbeat_interval": heartbeat_seconds,
        "decide_at": claimed.decide_at,
        "resume": None if claimed.checkpoint is None else {
            "epoch": claimed.checkpoint.epoch, "sha256": claimed.checkpoint.sha256,
            "bytes": claimed.checkpoint.bytes,
            "url": f"/api/v1/trials/{trial.id}/checkpoint",
        },
    }


def action_json(instruction: Instruction) -> dict[str, Any]:
    """An Action (domain.protocol): continue, stop or pause, with the reason and the lease's
    new end."""
    return {
        "action": "pause" if instruction.pause else "stop" if instruction.stop else "continue",
        "reason": instruction.reason,
        "lease_expires_at": iso(instruction.lease_expires_at),
    }


def rungs_json(view: RungView) -> dict[str, Any]:
    """A search's rungs and the values at them (schemas.RungsOut)."""
    rule = view.rule
    return {
        "kind": None if rule is None else rule.kind,
        "eta": None if rule is None else rule.eta,
        "brackets": [{"bracket": s, "rungs": [{"rung": r.rung, "epochs": r.epochs,
                                               "values": r.values} for r in rungs]}
                     for s, rungs in enumerate(view.brackets)],
        "entries": [{"trial_id": trial_id, "number": number, "bracket": bracket, "rung": rung,
                     "epochs": epochs, "value": value, "outcome": outcome}
                    for trial_id, number, bracket, rung, epochs, value, outcome
                    in view.entries],
    }


def importance_json(answer: Importance) -> dict[str, Any]:
    """A search's parameter importance (schemas.ImportanceOut)."""
    return {
        "finished_trials": answer.finished_trials,
        "parameters": [{"name": name, "importance": share}
                       for name, share in answer.parameters],
        "reason": answer.reason,
    }


def token_json(token: TokenInfo) -> dict[str, Any]:
    """A token's description (schemas.TokenOut): never the token itself."""
    return {
        "id": token.id,
        "name": token.name,
        "role": token.role,
        "owner": token.owner,
        "prefix": token.prefix,
        "created_at": iso(token.created_at),
        "last_used_at": iso(token.last_used_at),
        "revoked_at": iso(token.revoked_at),
    }
