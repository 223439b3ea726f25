"""Administrators over HTTP (issue 4 §2).

* ``POST /v1/admin/login`` {username, password, totp}: an administrator bearer token (15 min,
  audience ``{public_url}/admin``) for the right password and a fresh TOTP code. Every failure
  (unknown user, wrong password, wrong or replayed code, locked or disabled account) is the
  same 401 ``login_failed`` with the same message and about the same time; the failure is
  counted and recorded before the answer (its transaction commits first).
* ``POST /v1/admin/logout``: ends the session (the token stops working at once).
* ``GET /v1/admin/me``: the account behind the token.
* ``GET /v1/admin/accounts``: the administrator accounts (``admin.list``).
* ``GET /v1/admin/actions?after=&limit=``: the administrators' and operators' access records,
  oldest first, after ``seq`` ``after`` (``admin.actions``, audit administrator only). Entries
  are shown as stored: sealed subject references stay sealed.
* ``GET /v1/admin/keys`` (``keys.list``) and ``GET /v1/admin/health`` (``health.read``): the
  system administrator's view: key ids, purposes and states (never a secret); database and
  schema state. Neither reads personal data or log content.

Every route but the login names its action in the role × action matrix through
``require_action``. Handlers are plain ``def`` (thread pool): argon2id takes ~0.2 s.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from netid.admins.errors import LoginFailed
from netid.admins.schemas import PASSWORD_MAX_LENGTH, account_id_of
from netid.admins.service import MAX_ACTIONS_PAGE
from netid.container import Container
from netid.db.engine import check_database
from netid.db.migrate import current_revisions, head_revisions
from netid.oauth.errors import InvalidToken
from netid.oauth.schemas import AdminPrincipal
from netid.web.auth import admin_claims, require_action
from netid.web.errors import ERROR_RESPONSES
from netid.web.responses import JSONBody

_NO_STORE = {"Cache-Control": "no-store"}


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)
    totp: str = Field(min_length=1, max_length=16, description="The 6-digit TOTP code.")


class LoginOut(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    role: str
    actor: str


class AccountOut(BaseModel):
    id: str
    username: str
    role: str
    enabled: bool
    created_at: str
    disabled_at: str | None
    last_login_at: str | None


class ActionOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    seq: int
    id: str
    recorded_at: str
    actor: str
    action: str
    outcome: str


def _json(body: Any, status_code: int = 200) -> JSONBody:
    return JSONBody(body, status_code=status_code, headers=_NO_STORE)


def _account_id(admin: AdminPrincipal) -> str:
    account_id = account_id_of(admin.actor)
    if account_id is None:  # require_action has checked it already
        raise InvalidToken()
    return account_id


def router(container: Container) -> APIRouter:
    api = APIRouter(tags=["admin"])

    @api.post("/v1/admin/login", response_model=LoginOut, responses=ERROR_RESPONSES)
    def login(body: LoginIn) -> JSONBody:
        """Log in with username, password and the current TOTP code (RFC 6238, 30 s steps;
        a code is accepted once). After repeated failures the account is locked for a growing
        delay; any failure is the same 401 `login_failed`. A login ends the account's previous
        session."""
        with container.transaction() as session:
            result = container.admins(session).login(
                username=body.username, password=body.password, code=body.totp
            )
        if result is None:  # raised after the commit: the failure stays counted and recorded
            raise LoginFailed()
        return _json(result.to_json())

    @api.post("/v1/admin/logout", status_code=204, responses=ERROR_RESPONSES)
    def logout(
        request: Request,
        admin: Annotated[AdminPrincipal, Depends(require_action("admin.logout"))],
    ) -> Response:
        """End this session: the token is refused from the next request on."""
        claims = admin_claims(request)
        with container.transaction() as session:
            container.admins(session).logout(account_id=_account_id(admin), jti=claims.jti)
        return Response(status_code=204, headers=_NO_STORE)

    @api.get("/v1/admin/me", response_model=AccountOut, responses=ERROR_RESPONSES)
    def whoami(
        admin: Annotated[AdminPrincipal, Depends(require_action("admin.whoami"))],
    ) -> JSONBody:
        """The account behind this token."""
        with container.transaction(write=False) as session:
            view = container.admins(session).get(_account_id(admin))
        return _json(view.to_json())

    @api.get("/v1/admin/accounts", response_model=list[AccountOut], responses=ERROR_RESPONSES)
    def accounts(
        admin: Annotated[AdminPrincipal, Depends(require_action("admin.list"))],
    ) -> JSONBody:
        """The administrator accounts, oldest first (no secrets, no hashes)."""
        with container.transaction(write=False) as session:
            views = container.admins(session).accounts()
        return _json([v.to_json() for v in views])

    @api.get("/v1/admin/actions", response_model=list[ActionOut], responses=ERROR_RESPONSES)
    def actions(
        admin: Annotated[AdminPrincipal, Depends(require_action("admin.actions"))],
        after: Annotated[int, Query(ge=0, description="Return records after this seq.")] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_ACTIONS_PAGE)] = 100,
    ) -> JSONBody:
        """Access records of administrators and operators (and admin logins), oldest first;
        page with `after` = the last `seq` seen."""
        with container.transaction(write=False) as session:
            listed = container.admins(session).actions(after=after, limit=limit)
        return _json([a.to_json() for a in listed])

    @api.get("/v1/admin/keys", responses=ERROR_RESPONSES)
    def keys(admin: Annotated[AdminPrincipal, Depends(require_action("keys.list"))]) -> JSONBody:
        """The keyring: ids, purposes, algorithms and states (never a secret)."""
        with container.transaction(write=False) as session:
            infos = container.keyring_service(session).list_keys()
        return _json(
            [
                {
                    "key_id": k.key_id,
                    "purpose": k.purpose.value,
                    "algorithm": k.algorithm,
                    "state": k.state.value,
                    "created_at": k.created_at.isoformat(),
                    "retired_at": k.retired_at.isoformat() if k.retired_at else None,
                }
                for k in infos
            ]
        )

    @api.get("/v1/admin/health", responses=ERROR_RESPONSES)
    def health(
        admin: Annotated[AdminPrincipal, Depends(require_action("health.read"))],
    ) -> JSONBody:
        """The database answers; the schema's revisions and the code's heads."""
        check_database(container.engine)
        current, heads = current_revisions(container.engine), head_revisions()
        return _json(
            {
                "database": "ok",
                "schema_current": sorted(current),
                "schema_heads": sorted(heads),
                "schema_up_to_date": current == heads,
            }
        )

    return api
