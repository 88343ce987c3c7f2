"""What each route asks of its caller: a permission, and for a row, that it is theirs.

The guard (service.auth.guard) has already put the request's caller in its state.
A route takes one of these dependencies:

- `caller_may(permission)`: the caller, if their role grants the permission (else 403;
  None: any caller the guard let in);
- `search_for(permission)`, `trial_for(permission)`, `dataset_for(permission)`: the
  path's id, if the caller may, and the row is theirs (another owner's is a 404, as a
  missing one: a user cannot learn which ids exist).

Each also declares the bearer scheme, so /openapi.json documents it on the route.
"""


from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.api.deps import DatasetId, SearchId, TrialId, database
from service.auth.guard import Refused
from service.auth.roles import GRANTS, OPEN_CALLER, Caller, Permission
from service.db.session import Database
from service.store import owners

BEARER = HTTPBearer(auto_error=False, description="an API token (`caviar token create`)")


def forbidden(caller: Caller, permission: Permission) -> Refused:
    """The 403 of a caller whose role lacks a permission."""
    allowed = ", ".join(role for role, granted in GRANTS.items() if permission in granted)
    return Refused(403, f"token {caller.name!r} has role '{caller.role}', which may not do "
                        f"this: it needs the '{permission}' permission (roles: {allowed})")


def caller_may(permission: Permission | None) -> Callable[..., Caller]:
    """A dependency: the request's caller, if their role grants `permission` (None: any
    caller the guard let in)."""

    def dependency(request: Request,
                   _: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]) -> Caller:
        caller: Caller = getattr(request.state, "caller", OPEN_CALLER)
        if permission is not None and not caller.may(permission):
            raise forbidden(caller, permission)
        return caller

    return dependency


def search_for(permission: Permission) -> Callable[..., int]:
    """A dependency: the path's search id, if the caller may and the search is theirs."""

    def dependency(search_id: SearchId, db: Annotated[Database, Depends(database)],
                   caller: Annotated[Caller, Depends(caller_may(permission))]) -> int:
        if caller.owner_scope is not None:
            owners.check_search(db, search_id, caller.owner_scope)
        return search_id

    return dependency


def trial_for(permission: Permission) -> Callable[..., int]:
    """A dependency: the path's trial id, if the caller may and its search is theirs."""

    def dependency(trial_id: TrialId, db: Annotated[Database, Depends(database)],
                   caller: Annotated[Caller, Depends(caller_may(permission))]) -> int:
        if caller.owner_scope is not None:
            owners.check_trial(db, trial_id, caller.owner_scope)
        return trial_id

    return dependency


def dataset_for(permission: Permission) -> Callable[..., int]:
    """A dependency: the path's dataset id, if the caller may and the dataset is theirs."""

    def dependency(dataset_id: DatasetId, db: Annotated[Database, Depends(database)],
                   caller: Annotated[Caller, Depends(caller_may(permission))]) -> int:
        if caller.owner_scope is not None:
            owners.check_dataset(db, dataset_id, caller.owner_scope)
        return dataset_id

    return dependency


ReadableSearch = Annotated[int, Depends(search_for(Permission.READ))]
"""A path's search id the caller may read."""
ChangeableSearch = Annotated[int, Depends(search_for(Permission.SUBMIT))]
"""A path's search id the caller may change (cancel, re-test)."""
ReadableTrial = Annotated[int, Depends(trial_for(Permission.READ))]
"""A path's trial id the caller may read."""
ChangeableTrial = Annotated[int, Depends(trial_for(Permission.SUBMIT))]
"""A path's trial id the caller may stop."""
DownloadableDataset = Annotated[int, Depends(dataset_for(Permission.DOWNLOAD))]
"""A path's dataset id the caller may download."""
