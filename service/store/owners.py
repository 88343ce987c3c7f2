"""Whose a search, trial or dataset is: checks that answer 404 for another owner's rows.

Another owner's row is answered exactly as a missing one (NotFound with the same
sentence), so a user cannot learn which ids exist.
"""

from __future__ import annotations

from sqlalchemy import select

from domain.errors import NotFound
from service.db.models import Dataset, Search, Trial
from service.db.session import Database


def check_search(db: Database, search_id: int, owner: str) -> None:
    """NotFound unless the search exists and belongs to `owner`."""
    with db.read() as session:
        found = session.scalar(select(Search.owner).where(Search.id == search_id))
    if found != owner:
        raise NotFound(f"search {search_id} not found")


def check_trial(db: Database, trial_id: int, owner: str) -> None:
    """NotFound unless the trial exists and its search belongs to `owner`."""
    with db.read() as session:
        found = session.scalar(select(Search.owner).join(Trial, Trial.search_id == Search.id)
                               .where(Trial.id == trial_id))
    if found != owner:
        raise NotFound(f"trial {trial_id} not found")


def check_dataset(db: Database, dataset_id: int, owner: str) -> None:
    """NotFound unless the dataset exists and belongs to `owner`."""
    with db.read() as session:
        found = session.scalar(select(Dataset.owner).where(Dataset.id == dataset_id))
    if found != owner:
        raise NotFound(f"dataset {dataset_id} not found")
