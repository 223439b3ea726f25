"""FastAPI dependencies for authenticated routes: institutions and (interim) administrators.

How to use (the container is read from ``request.app.state.container``, which
:func:`netid.web.app.create_app` sets, so these need no factory)::

    from fastapi import Depends
    from netid.web.auth import AccessClaims, AdminPrincipal, institution_token, require_admin

    @router.post("/v1/verifications")
    async def verify(body: ..., caller: AccessClaims = Depends(institution_token)) -> ...:
        with container.transaction() as session:
            container.institutions(session).require_active(caller.institution_id)  # see below
            ...

    @router.post("/v1/admin/institutions/{id}/approve")
    async def approve(admin: AdminPrincipal = Depends(require_admin("security_admin"))) -> ...:
        ...  # admin.actor for the access record

* :func:`institution_token` reads ``Authorization: Bearer <token>`` (RFC 6750 §2.1) and checks
  the self-contained token (:mod:`netid.oauth.tokens`): MAC, audience ``{public_url}/v1``,
  expiry. No database round trip: the keys come from the container's cached keyring. Missing,
  malformed, forged, expired or wrong-audience tokens are all the same 401 ``invalid_token``
  with ``WWW-Authenticate: Bearer error="invalid_token"``.
* **Status is not in the token.** A suspended, frozen or revoked institution must be refused on
  its very next request even with an unexpired token, so every institution route calls
  ``InstitutionService.require_active(claims.institution_id)`` in its own transaction (SEC-11).
  The token says who is calling; the database says whether they may act now.
* :func:`require_admin` takes one or more roles (system_admin, security_admin, audit_admin,
  registrar, reviewer) and yields an :class:`AdminPrincipal`; a valid admin token with another
  role is 403 ``insufficient_role``. Admin tokens (audience ``{public_url}/admin``) come from
  ``netid admin token --role ...`` until issue 4 brings password + TOTP administrators.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request

from netid.container import Container
from netid.oauth.errors import InsufficientRole, InvalidToken
from netid.oauth.schemas import ADMIN_ROLES, AccessClaims, AdminPrincipal
from netid.oauth.tokens import verify_access_token, verify_admin_token

__all__ = [
    "AccessClaims",
    "AdminPrincipal",
    "bearer_token",
    "institution_token",
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


def require_admin(*roles: str) -> Callable[[Request], Awaitable[AdminPrincipal]]:
    """A dependency admitting administrators holding one of ``roles``."""
    if not roles or any(role not in ADMIN_ROLES for role in roles):
        raise ValueError(f"roles must be among {ADMIN_ROLES}")
    allowed = frozenset(roles)

    async def admin(request: Request) -> AdminPrincipal:
        token = bearer_token(request)
        c = _container(request)
        claims = verify_admin_token(token, c.token_mac_keys(), c.clock.now(), c.admin_audience())
        if claims.role not in allowed:
            raise InsufficientRole()
        return AdminPrincipal(actor=claims.actor, role=claims.role)

    return admin
