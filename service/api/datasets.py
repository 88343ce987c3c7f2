"""Routes of datasets: upload (checked on arrival), list, download."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.responses import JSONResponse, Response

from domain.errors import Invalid
from domain.protocol import Text
from service.api import views
from service.api.access import DownloadableDataset, caller_may
from service.api.deps import API_PREFIX, database, settings
from service.api.errors import documented
from service.api.schemas import MAX_CURSOR, DatasetList, DatasetOut
from service.auth.roles import Caller, Permission
from service.db.session import Database
from service.settings import Settings
from service.store import datasets

router = APIRouter(prefix=API_PREFIX, tags=["datasets"])
CHUNK = 1 << 20


def _read_limited(upload: UploadFile, limit: int) -> bytes:
    """The uploaded bytes, or Invalid once they pass the limit."""
    parts, size = [], 0
    while chunk := upload.file.read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise Invalid(["body", "file"], f"the file is larger than the limit of {limit} bytes "
                          "(CAVIAR_MAX_UPLOAD_BYTES)")
        parts.append(chunk)
    return b"".join(parts)


@router.post("/datasets", status_code=201, response_model=DatasetOut,
             responses=documented({}))
def upload_dataset(
    file: Annotated[UploadFile, File(description="a .npz with arrays X and y, or a .csv")],
    db: Annotated[Database, Depends(database)],
    config: Annotated[Settings, Depends(settings)],
    caller: Annotated[Caller, Depends(caller_may(Permission.SUBMIT))],
    name: Annotated[Text | None, Form(min_length=1, max_length=200)] = None,
    label_column: Annotated[Text | None, Form(min_length=1, max_length=200)] = None,
) -> JSONResponse:
    """Upload a dataset; a bad file is a 422 saying what is wrong."""
    filename = file.filename or ""
    if "\x00" in filename or len(filename) > 200:
        raise Invalid(["body", "file"], "the file name must be at most 200 characters, no NUL")
    data = _read_limited(file, config.max_upload_bytes)
    row = datasets.create_dataset(db, data, filename, name, label_column, caller.owner)
    return JSONResponse(views.dataset_json(row), status_code=201)


@router.get("/datasets", response_model=DatasetList, responses=documented({}))
def list_datasets(
    db: Annotated[Database, Depends(database)],
    caller: Annotated[Caller, Depends(caller_may(Permission.READ))],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_CURSOR)] = 0,
) -> JSONResponse:
    """Uploaded datasets, newest first (a user's: their own)."""
    rows, total = datasets.list_datasets(db, limit, offset, caller.owner_scope)
    return JSONResponse({"items": [views.dataset_json(r) for r in rows], "total": total})


@router.get("/datasets/{dataset_id}/data", response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}},
                             "description": "the uploaded bytes"},
                       **documented({404: "no dataset has this id"})})
def download_dataset(dataset_id: DownloadableDataset, db: Annotated[Database, Depends(database)]
                     ) -> Response:
    """The uploaded bytes, with their SHA-256 in X-Caviar-SHA256 (workers cache by it)."""
    row = datasets.get_dataset(db, dataset_id)
    filename = f"dataset-{row.id}.{row.format}"
    return Response(row.data, media_type="application/octet-stream", headers={
        "X-Caviar-SHA256": row.sha256,
        "Content-Disposition": f'attachment; filename="{filename}"',
    })
