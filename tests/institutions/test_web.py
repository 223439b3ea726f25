"""The onboarding HTTP API on the real app (starlette TestClient), on every backend."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from netid.container import Container
from netid.institutions.codes import institution_code_valid
from netid.web.app import create_app
from tests.admins import support
from tests.institutions.support import REP_NAME, application

pytestmark = pytest.mark.db
BASE = "/v1/admin/institutions"


@pytest.fixture
def client(container: Container) -> TestClient:
    return TestClient(create_app(container))


def admin_headers(container: Container, role: str = "security_admin") -> dict[str, str]:
    """A new administrator of ``role``, logged in with password + TOTP."""
    return support.admin_headers(container, role)


def submit(client: TestClient, **overrides: Any) -> str:
    response = client.post("/v1/institutions/applications", json=application(**overrides))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "pending"
    return str(body["id"])


def test_apply_and_the_admin_lifecycle(client: TestClient, container: Container) -> None:
    institution_id = submit(client)
    account, secret = support.create_admin(container, "security_admin")
    admin = {"Authorization": f"Bearer {support.login(container, account, secret)}"}
    listed = client.get(BASE, params={"status": "pending"}, headers=admin)
    assert listed.status_code == 200 and [i["id"] for i in listed.json()] == [institution_id]
    assert REP_NAME not in listed.text

    approved = client.post(
        f"{BASE}/{institution_id}/approve",
        json={"reason": "documents checked", "quotas": {"id2": 3}},
        headers=admin,
    )
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert body["status"] == "active" and institution_code_valid(body["code"])

    frozen = client.post(f"{BASE}/{institution_id}/freeze", json={"reason": "x"}, headers=admin)
    assert frozen.json()["status"] == "frozen"
    again = client.post(f"{BASE}/{institution_id}/freeze", json={"reason": "x"}, headers=admin)
    assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_transition"
    with container.transaction(write=False) as session:
        assert container.institutions(session).get(institution_id).status.value == "frozen"

    detail = client.get(f"{BASE}/{institution_id}", headers=admin).json()
    assert [h["to"] for h in detail["history"]] == ["pending", "active", "frozen"]
    assert detail["history"][2]["actor"] == f"admin:{account.id}"
    assert {q["verification_type"]: q["limit"] for q in detail["quotas"]}["id2"] == 3


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"uscc": "91350100M000100Y44"}, 400, "invalid_uscc"),
        ({"purposes": ["mind_reading"]}, 400, "purpose_not_registered"),
        ({"industry": "casino"}, 400, "industry_not_registered"),
        ({"public_jwks": [{"kty": "OKP", "crv": "Ed25519", "x": "AA", "d": "AA"}]}, 400, None),
        ({"unexpected": REP_NAME}, 422, "invalid_request"),
        ({"public_jwks": []}, 422, "invalid_request"),
    ],
)
def test_bad_applications(
    client: TestClient, container: Container, overrides: dict[str, Any], status: int, code: Any
) -> None:
    response = client.post("/v1/institutions/applications", json=application(**overrides))
    assert response.status_code == status
    assert response.json()["error"]["code"] == (code or "invalid_public_key")
    assert REP_NAME not in response.text
    assert client.get(BASE, headers=admin_headers(container)).json() == []


def test_admin_routes_need_a_security_administrator(
    client: TestClient, container: Container
) -> None:
    institution_id = submit(client)
    url = f"{BASE}/{institution_id}/approve"
    assert client.post(url, json={"reason": "x"}).status_code == 401
    assert client.get(BASE, headers={"Authorization": "Bearer forged"}).status_code == 401
    other = admin_headers(container, role="system_admin")
    refused = client.post(url, json={"reason": "x"}, headers=other)
    assert refused.status_code == 403
    with container.transaction(write=False) as session:
        assert container.institutions(session).get(institution_id).status.value == "pending"
    missing = client.get(f"{BASE}/{'0' * 32}", headers=admin_headers(container))
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "institution_not_found"


def test_openapi_documents_the_routes(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    assert "/v1/institutions/applications" in paths
    for verb in ("approve", "reject", "suspend", "freeze", "unfreeze", "reinstate", "revoke"):
        assert f"/v1/admin/institutions/{{institution_id}}/{verb}" in paths
    schema = json.dumps(paths["/v1/institutions/applications"]["post"]["requestBody"])
    assert "ApplicationIn" in schema
