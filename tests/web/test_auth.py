"""The auth dependencies on the real app: institution bearer tokens and administrator tokens
(from a real password + TOTP login). Probe routes are added to the app create_app builds;
everything else is real (keyring, MAC, database)."""

from __future__ import annotations

import time

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from netid.container import Container
from netid.keys.schemas import KeyPurpose
from netid.oauth.tokens import mint_access_token, mint_admin_token
from netid.web.app import create_app
from netid.web.auth import AccessClaims, AdminPrincipal, institution_token, require_admin
from tests.admins import support

pytestmark = pytest.mark.db


def probe_app(container: Container) -> FastAPI:
    app = create_app(container)

    @app.get("/v1/_probe")
    async def probe(caller: AccessClaims = Depends(institution_token)) -> dict[str, str]:  # noqa: B008
        return {"institution": caller.institution_code}

    @app.get("/v1/admin/_probe")
    async def admin_probe(
        admin: AdminPrincipal = Depends(require_admin("security_admin", "audit_admin")),  # noqa: B008
    ) -> dict[str, str]:
        return {"actor": admin.actor, "role": admin.role}

    return app


@pytest.fixture
def client(container: Container) -> TestClient:
    return TestClient(probe_app(container))


def access_token(container: Container, *, audience: str | None = None, **over: int) -> str:
    key = container.keyring().active(KeyPurpose.TOKEN_MAC)
    params = {"issued_at": int(time.time()), "ttl": 600}
    params.update(over)
    return mint_access_token(
        key_id=key.key_id,
        secret=key.secret,
        client_id="c_1",
        institution_id="inst-1",
        institution_code="91110108MA01ABCDX",
        scope="verification",
        audience=audience or container.api_audience(),
        jti="DDDDDDDDDDDDDDDDDDDDDD",
        **params,
    )


def minted_admin_token(container: Container, role: str, audience: str | None = None) -> str:
    """An admin token with a valid MAC but no account or session behind it."""
    key = container.keyring().active(KeyPurpose.TOKEN_MAC)
    return mint_admin_token(
        key_id=key.key_id,
        secret=key.secret,
        actor="admin:alice",
        role=role,
        audience=audience or container.admin_audience(),
        issued_at=int(time.time()),
        ttl=900,
        jti="EEEEEEEEEEEEEEEEEEEEEE",
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_valid_institution_token_is_accepted(client: TestClient, container: Container) -> None:
    response = client.get("/v1/_probe", headers=bearer(access_token(container)))
    assert response.status_code == 200
    assert response.json() == {"institution": "91110108MA01ABCDX"}
    # the scheme is case-insensitive (RFC 7235 §2.1)
    response = client.get(
        "/v1/_probe", headers={"Authorization": f"bearer {access_token(container)}"}
    )
    assert response.status_code == 200


def test_bad_institution_tokens_all_look_the_same(client: TestClient, container: Container) -> None:
    good = access_token(container)
    now = int(time.time())
    cases = [
        {},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer"},
        {"Authorization": f"Bearer {good} extra"},
        bearer(good[:-3] + "AAA"),
        bearer(access_token(container, issued_at=now - 700)),  # expired
        bearer(access_token(container, audience="https://elsewhere.example/v1")),
        bearer(minted_admin_token(container, "security_admin")),  # right MAC, wrong kind
        bearer("nat1.x.y.z"),
    ]
    bodies = set()
    for headers in cases:
        response = client.get("/v1/_probe", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        assert response.headers["cache-control"] == "no-store"
        bodies.add(response.text)
    assert len(bodies) == 1


def test_admin_roles(client: TestClient, container: Container) -> None:
    account, secret = support.create_admin(container, "audit_admin")
    token = support.login(container, account, secret)
    response = client.get("/v1/admin/_probe", headers=bearer(token))
    assert response.status_code == 200
    assert response.json() == {"actor": f"admin:{account.id}", "role": "audit_admin"}
    response = client.get(
        "/v1/admin/_probe", headers=bearer(support.admin_token(container, "system_admin"))
    )
    assert response.status_code == 403 and response.json()["error"]["code"] == "insufficient_role"
    # an institution token, an admin token for another audience, and a well-MACed admin token
    # with no account or session behind it are no admin tokens
    for other in (
        access_token(container),
        minted_admin_token(container, "security_admin", audience="https://elsewhere.example/admin"),
        minted_admin_token(container, "security_admin"),
    ):
        assert client.get("/v1/admin/_probe", headers=bearer(other)).status_code == 401


def test_require_admin_refuses_unknown_roles() -> None:
    with pytest.raises(ValueError):
        require_admin("root")
    with pytest.raises(ValueError):
        require_admin()
