"""Searches: create from a validated spec, read, list. (A cancel is a change of state:
service.store.lifecycle.)"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from domain.datasets import Shape
from domain.errors import Invalid, NotFound
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


_SHAPE = select(Dataset.n_samples, Dataset.n_features, Dataset.n_classes).where(
    Dataset.id == bindparam("dataset_id"))


def create_search(db: Database, spec: SearchSpec) -> SearchView:
    """Store a new running search; its trials are sampled as workers claim them.

    Invalid (or a pydantic ValidationError: a 422 naming the field) if it names an
    uploaded dataset that does not exist, or whose shape makes a trial of the search
    pass domain.cost's limits.
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
            shape = None if dataset_id > MAX_ROW_ID else session.execute(
                _SHAPE, {"dataset_id": dataset_id}).first()
            if shape is None:
                raise Invalid(["body", "dataset", "id"],
                              f"no uploaded dataset has id {dataset_id}")
            # A trial's memory and compute, which only the dataset's shape tells.
            raise_rule_errors("SearchSpec", uploaded_cost_errors(spec, Shape(*shape)))
        search = Search(
            name=spec.name, spec=spec_json, status=SearchStatus.RUNNING, max_trials=max_trials,
            n_trials=0, count_pending=0, count_running=0, count_completed=0, count_failed=0,
            count_pruned=0, count_cancelled=0, last_seq=0, rounds=[], created_at=now,
            updated_at=now,
        )
        session.add(search)
        session.flush()
        return SearchView(search, None)


def get_search(db: Database, search_id: int) -> SearchView:
    """One search, or NotFound."""
    with db.read() as session:
        search = session.get(Search, search_id)
        if search is None:
            raise NotFound(f"search {search_id} not found")
        return _view(session, search)


def list_searches(db: Database, limit: int, offset: int, status: SearchStatus | None
                  ) -> tuple[list[SearchView], int]:
    """A page of searches, newest first, and how many there are in all."""
    with db.read() as session:
        where = [] if status is None else [Search.status == status]
        total = session.scalar(select(func.count()).select_from(Search).where(*where)) or 0
        rows = session.scalars(
            select(Search).where(*where).order_by(Search.id.desc()).limit(limit).offset(offset)
        ).all()
        return [_view(session, search) for search in rows], total
