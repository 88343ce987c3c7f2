"""Searches: create from a validated spec, read, list. (A cancel is a change of state:
service.store.lifecycle.)"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from domain.datasets import Shape
from domain.errors import Conflict, Invalid, NotFound
from domain.lifecycle.states import SearchStatus
from domain.spec import SearchSpec, uploaded_cost_errors
from domain.spec_errors import raise_rule_errors
from service.db.models import Dataset, Search, Trial, utcnow
from service.db.session import Database
from service.search.plans import build_plan

MAX_ROW_ID = 2**31 - 1  # ids are 32-bit integers in the tables


@dataclass(frozen=True)
class SearchView:
    """A search with its best trial (None until one completes)."""

    search: Search
    best: Trial | None


def _view(session: Session, search: Search) -> SearchView:
    best = session.get(Trial, search.best_trial_id) if search.best_trial_id else None
    return SearchView(search, best)


def uploaded_dataset_id(spec_json: dict) -> int | None:
    """The id of the uploaded dataset a normalized spec names, if it names one."""
    dataset = spec_json.get("dataset")
    if isinstance(dataset, dict) and dataset.get("id") is not None:
        return int(dataset["id"])
    return None


_SHAPE = select(Dataset.n_samples, Dataset.n_features, Dataset.n_classes, Dataset.owner).where(
    Dataset.id == bindparam("dataset_id"))


def create_search(db: Database, spec: SearchSpec, owner: str | None = None,
                  owner_scope: str | None = None, max_open: int | None = None) -> SearchView:
    """Store a new running search of `owner`'s; its trials are sampled as workers claim them.

    Invalid (or a pydantic ValidationError: a 422 naming the field) if it names an
    uploaded dataset that does not exist or is not visible to `owner_scope` (None: every
    owner's), or whose shape makes a trial of the search pass domain.cost's limits.
    Conflict if the owner already has `max_open` searches running.
    """
    plan = build_plan(spec)
    capacity = plan.sampler.capacity(plan.space)
    max_trials = spec.budget.max_trials if capacity is None else min(
        spec.budget.max_trials, capacity
    )
    spec_json = spec.model_dump(mode="json")
    now = utcnow()
    with db.write() as session:
        dataset_id = uploaded_dataset_id(spec_json)
        if dataset_id is not None:
            found = None if dataset_id > MAX_ROW_ID else session.execute(
                _SHAPE, {"dataset_id": dataset_id}).first()
            if found is None or owner_scope not in (None, found.owner):
                raise Invalid(["body", "dataset", "id"],
                              f"no uploaded dataset has id {dataset_id}")
            # A trial's memory and compute, which only the dataset's shape tells.
            raise_rule_errors("SearchSpec", uploaded_cost_errors(spec, Shape(*found[:3])))
        if max_open is not None:
            _check_open_searches(session, owner, max_open)
        search = Search(
            name=spec.name, spec=spec_json, status=SearchStatus.RUNNING, max_trials=max_trials,
            n_trials=0, count_pending=0, count_running=0, count_completed=0, count_failed=0,
            count_pruned=0, count_cancelled=0, last_seq=0, rounds=[], created_at=now,
            updated_at=now, owner=owner,
        )
        session.add(search)
        session.flush()
        return SearchView(search, None)


def _check_open_searches(session: Session, owner: str | None, max_open: int) -> None:
    """Conflict if `owner` has `max_open` searches running."""
    mine = Search.owner.is_(None) if owner is None else Search.owner == owner
    open_now = session.scalar(select(func.count()).select_from(Search).where(
        mine, Search.status == SearchStatus.RUNNING)) or 0
    if open_now >= max_open:
        who = "this server's" if owner is None else f"owner {owner!r}"
        raise Conflict(f"{who} searches: {open_now} are open, the limit "
                       f"(CAVIAR_MAX_OPEN_SEARCHES) is {max_open}; cancel one or let it finish")


def get_search(db: Database, search_id: int) -> SearchView:
    """One search, or NotFound."""
    with db.read() as session:
        search = session.get(Search, search_id)
        if search is None:
            raise NotFound(f"search {search_id} not found")
        return _view(session, search)


def list_searches(db: Database, limit: int, offset: int, status: SearchStatus | None,
                  owner: str | None = None) -> tuple[list[SearchView], int]:
    """A page of searches, newest first, and how many there are in all; only `owner`'s if
    one is given."""
    with db.read() as session:
        where = [] if status is None else [Search.status == status]
        if owner is not None:
            where.append(Search.owner == owner)
        total = session.scalar(select(func.count()).select_from(Search).where(*where)) or 0
        rows = session.scalars(
            select(Search).where(*where).order_by(Search.id.desc()).limit(limit).offset(offset)
        ).all()
        return [_view(session, search) for search in rows], total
