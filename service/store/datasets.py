"""Uploaded datasets: checked with the worker's own parser, stored with their bytes."""

from __future__ import annotations

import hashlib

from sqlalchemy import Row, func, select

from domain.errors import Invalid, NotFound
from service.db.models import Dataset, utcnow
from service.db.session import Database
from worker.datasets import FORMATS, DatasetError, load_bytes

DESCRIPTION = [column for column in Dataset.__table__.columns if column.name != "data"]


def format_of(filename: str) -> str:
    """The dataset format of an uploaded file's name (its suffix), or Invalid."""
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if suffix not in FORMATS:
        raise Invalid(["body", "file"],
                      f"file {filename!r}: unsupported type {suffix or '(no suffix)'!r}; "
                      "expected a .npz or .csv file")
    return suffix


def create_dataset(db: Database, data: bytes, filename: str, name: str | None,
                   label_column: str | None, owner: str | None = None) -> Dataset:
    """Parse and check an upload, then store it as `owner`'s; a bad file is Invalid saying
    what is wrong."""
    format = format_of(filename)
    name = name or filename
    try:
        parsed = load_bytes(data, format, label_column=label_column, name=name, where=filename)
    except DatasetError as error:
        raise Invalid(["body", "file"], str(error)) from None
    row = Dataset(
        name=name, format=format, label_column=(label_column or "label") if format == "csv"
        else None, sha256=hashlib.sha256(data).hexdigest(), n_samples=parsed.n_samples,
        n_features=parsed.n_features, n_classes=parsed.n_classes, bytes=len(data), data=data,
        created_at=utcnow(), owner=owner,
    )
    with db.write() as session:
        session.add(row)
        session.flush()
        return row


def list_datasets(db: Database, limit: int, offset: int, owner: str | None = None
                  ) -> tuple[list[Row], int]:
    """A page of datasets, newest first (without their bytes), and the total; only
    `owner`'s if one is given."""
    where = [] if owner is None else [Dataset.owner == owner]
    with db.read() as session:
        total = session.scalar(select(func.count()).select_from(Dataset).where(*where)) or 0
        rows = session.execute(
            select(*DESCRIPTION).where(*where).order_by(Dataset.id.desc()).limit(limit)
            .offset(offset)
        ).all()
        return list(rows), total


def get_dataset(db: Database, dataset_id: int) -> Dataset:
    """One dataset with its bytes, or NotFound."""
    with db.read() as session:
        row = session.get(Dataset, dataset_id)
        if row is None:
            raise NotFound(f"dataset {dataset_id} not found")
        return row


def get_dataset_info(db: Database, dataset_id: int) -> Row | None:
    """One dataset's description (its bytes not loaded), or None."""
    with db.read() as session:
        return session.execute(select(*DESCRIPTION).where(Dataset.id == dataset_id)).one_or_none()
