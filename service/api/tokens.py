"""Routes of API tokens (admin only) and of the caller itself (`/whoami`).

The first admin token is made on the server's machine against its database
(`caviar token create --database-url ...`); later ones through these routes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse

from domain.protocol import MAX_ID
from service.api import views
from service.api.access import caller_may
from service.api.deps import API_PREFIX, database
from service.api.errors import documented
from service.api.schemas import TokenCreate, TokenCreated, TokenList, TokenOut, WhoAmI
from service.auth.roles import Caller, Permission
from service.auth.tokens import create_token, list_tokens, revoke_token
from service.db.session import Database

router = APIRouter(prefix=API_PREFIX, tags=["tokens"])
TokenId = Annotated[int, Path(ge=1, le=MAX_ID, description="a token's id")]
MANAGER = Depends(caller_may(Permission.MANAGE))


@router.post("/tokens", status_code=201, response_model=TokenCreated,
             responses=documented({}), dependencies=[MANAGER])
def create(body: TokenCreate, db: Annotated[Database, Depends(database)]) -> JSONResponse:
    """Make a token; the answer holds the token, which is shown this once."""
    info, token = create_token(db, body.name, body.role, body.owner)
    return JSONResponse({**views.token_json(info), "token": token}, status_code=201)


@router.get("/tokens", response_model=TokenList, responses=documented({}, takes_input=False),
            dependencies=[MANAGER])
def listing(db: Annotated[Database, Depends(database)]) -> JSONResponse:
    """Every token, revoked ones included (never the tokens themselves)."""
    return JSONResponse({"items": [views.token_json(info) for info in list_tokens(db)]})


@router.post("/tokens/{token_id}/revoke", response_model=TokenOut,
             responses=documented({404: "no token has this id",
                                   409: "the token is already revoked, or is the one "
                                        "making the call"}))
def revoke(token_id: TokenId, request: Request, db: Annotated[Database, Depends(database)],
           caller: Annotated[Caller, MANAGER]) -> JSONResponse:
    """Revoke a token: this server refuses it at once, other servers within seconds. A
    token cannot revoke itself."""
    info = revoke_token(db, token_id, caller.token_id)
    request.app.state.guard.forget(info.id)
    return JSONResponse(views.token_json(info))


@router.get("/whoami", response_model=WhoAmI, responses=documented({}, takes_input=False))
def whoami(request: Request, caller: Annotated[Caller, Depends(caller_may(None))]
           ) -> JSONResponse:
    """The token's name, role and owner, and whether this server requires tokens (the
    dashboard's sign-in checks a token with it)."""
    required = request.app.state.guard.required
    return JSONResponse({"name": caller.name, "role": caller.role, "owner": caller.owner,
                         "authentication": "tokens" if required else "open"})
