"""FastAPI dependencies for authenticated routes: institutions and administrators.

How to use (the container is read from ``request.app.state.container``, which
:func:`netid.web.app.create_app` sets, so these need no factory)::

    from fastapi import Depends
    from netid.web.auth import AccessClaims, AdminPrincipal, institution_token, require_action

    @router.post("/v1/verifications")
    async def verify(body: ..., caller: AccessClaims = Depends(institution_token)) -> ...:
        with container.transaction() as session:
            container.institutions(session).require_active(caller.institution_id)  # see below
            ...

    @router.post("/v1/admin/institutions/{id}/approve")
    def approve(admin: AdminPrincipal = Depends(require_action("institution.approve"))) -> ...:
        ...  # admin.actor ("admin:<account id>") for the access record

* :func:`institution_token` reads ``Authorization: Bearer <token>`` (RFC 6750 §2.1) and checks
  the self-contained token (:mod:`netid.oauth.tokens`): MAC, audience ``{public_url}/v1``,
  expiry. No database round trip: the keys come from the container's cached keyring. Missing,
  malformed, forged, expired or wrong-audience tokens are all the same 401 ``invalid_token``
  with ``WWW-Authenticate: Bearer error="invalid_token"``.
* **Status is not in the token.** A suspended, frozen or revoked institution must be refused on
  its very next request even with an unexpired token, so every institution route calls
  ``InstitutionService.require_active(claims.institution_id)`` in its own transaction (SEC-11).
  The token says who is calling; the database says whether they may act now.
* :func:`require_action` is THE dependency of every admin route: it names the route's action
  in the role × action matrix (:mod:`netid.admins.matrix`; an unknown name fails at import).
  Admin tokens (audience ``{public_url}/admin``) come from ``POST /v1/admin/login`` (password +
  TOTP). The dependency checks the token (401 ``invalid_token``), then, in the database (fail
  closed), that the account exists, is enabled, still has the token's role and that the token
  is its current session (a disabled account, a logout or a newer login: 401 on the very next
  request), then the matrix (403 ``insufficient_role``). Allowed and denied requests are access
  records (``admin.request``, actor ``admin:<account id>``, with the action and route).
  :func:`require_admin` (roles instead of an action) does the same for the roles given; new
  routes use :func:`require_action`, which the route-walking test requires.
"""

from __future__ import annotations

from fastapi import Request

from netid.admins.matrix import roles_for
from netid.admins.schemas import Decision, account_id_of
from netid.container import Container
from netid.enrolment.errors import SessionInvalid
from netid.enrolment.schemas import CitizenPrincipal
from netid.oauth.errors import InsufficientRole, InvalidToken
from netid.oauth.schemas import ADMIN_ROLES, AccessClaims, AdminClaims, AdminPrincipal
from netid.oauth.tokens import verify_access_token, verify_admin_token

__all__ = [
    "AccessClaims",
    "AdminAction",
    "AdminPrincipal",
    "AdminRoles",
    "CitizenPrincipal",
    "admin_claims",
    "bearer_token",
    "citizen_session",
    "institution_token",
    "optional_citizen_session",
    "require_action",
    "require_admin",
]


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def bearer_token(request: Request) -> str:
    """The token of an ``Authorization: Bearer`` header, or :class:`InvalidToken`."""
    header = request.headers.get("authorization")
    if header is None:
        raise InvalidToken()
    scheme, _, token = header.partition(" ")
    # RFC 7235 §2.1: the scheme is case-insensitive; RFC 6750 §2.1: one b64token.
    if scheme.lower() != "bearer" or not token or " " in token:
        raise InvalidToken()
    return token


async def institution_token(request: Request) -> AccessClaims:
    """The verified institution access token of this request (401 otherwise)."""
    token = bearer_token(request)
    c = _container(request)
    return verify_access_token(token, c.token_mac_keys(), c.clock.now(), c.api_audience())


def admin_claims(request: Request) -> AdminClaims:
    """The MAC-checked admin token of this request (401 otherwise); no database check."""
    c = _container(request)
    return verify_admin_token(
        bearer_token(request), c.token_mac_keys(), c.clock.now(), c.admin_audience()
    )


def _route(request: Request) -> str:
    route = request.scope.get("route")
    path = getattr(route, "path", None) or request.url.path
    return f"{request.method} {path}"


def _authorise(
    request: Request, action: str, roles: frozenset[str] | None = None
) -> AdminPrincipal:
    claims = admin_claims(request)
    account_id = account_id_of(claims.actor)
    if account_id is None:
        raise InvalidToken()
    c = _container(request)
    with c.transaction() as session:
        decision = c.admins(session).authorise(
            account_id=account_id,
            role=claims.role,
            jti=claims.jti,
            action=action,
            route=_route(request),
            params=dict(request.path_params),
            roles=roles,
        )
    # Raised after the commit, so a denied request stays recorded.
    if decision is Decision.INVALID:
        raise InvalidToken()
    if decision is Decision.DENIED:
        raise InsufficientRole()
    return AdminPrincipal(actor=claims.actor, role=claims.role)


class AdminAction:
    """The dependency of an admin route doing ``action``; ``action`` is what the route walker
    (tests/web/test_admin_matrix.py) reads. A plain ``__call__``: FastAPI runs it in the
    thread pool, so its database check never blocks the event loop."""

    def __init__(self, action: str) -> None:
        roles_for(action)  # an action missing from the matrix is a programming error
        self.action = action

    def __call__(self, request: Request) -> AdminPrincipal:
        return _authorise(request, self.action)


def require_action(action: str) -> AdminAction:
    """The dependency of an admin route doing ``action`` (a name in the role × action matrix)."""
    return AdminAction(action)


class AdminRoles:
    """The dependency :func:`require_admin` returns (the route walker flags it: a route should
    name its action with :func:`require_action`)."""

    def __init__(self, roles: frozenset[str]) -> None:
        self.roles = roles

    def __call__(self, request: Request) -> AdminPrincipal:
        return _authorise(request, "unlisted", self.roles)


def require_admin(*roles: str) -> AdminRoles:
    """A dependency admitting administrators holding one of ``roles``. Prefer
    :func:`require_action`, which names the action in the matrix; this one is recorded with the
    action ``unlisted``."""
    if not roles or any(role not in ADMIN_ROLES for role in roles):
        raise ValueError(f"roles must be among {ADMIN_ROLES}")
    return AdminRoles(frozenset(roles))


# -- citizens (wallet sessions, docs/decisions/0005 "Citizen principal") ---------------------
def citizen_session(request: Request) -> CitizenPrincipal:
    """The wallet session of this request (``Authorization: Bearer``, a ``typ: "wallet"``
    token): MAC, audience ``{public_url}/v1/wallet`` and expiry, then — on every request, no
    cache (SEC-11) — the credential is read (revoked: refused) and the account (deregistered:
    refused). Any failure is 401 ``session_invalid``. A plain ``def``: FastAPI runs it in the
    thread pool, so its database read never blocks the event loop."""
    try:
        token = bearer_token(request)
    except InvalidToken:
        raise SessionInvalid() from None
    c = _container(request)
    with c.transaction(write=False) as session:
        return c.enrolment(session).authenticate(token, wallet_keys=c.token_mac_keys())


def optional_citizen_session(request: Request) -> CitizenPrincipal | None:
    """:func:`citizen_session` when an ``Authorization`` header is present, else None (a
    guardian enrolling a child under 14 sends theirs; an invalid one is still refused)."""
    if request.headers.get("authorization") is None:
        return None
    return citizen_session(request)
