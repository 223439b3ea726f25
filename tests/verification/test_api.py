"""``POST /v1/verifications`` over HTTP: a real token from ``/oauth2/token``, the error table,
limits, the batch form, and OpenAPI."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from netid.container import Container
from netid.web.app import create_app
from tests.verification.support import ACTOR, ApprovedInstitution, People, load_people

pytestmark = pytest.mark.db


@pytest.fixture
def http(container: Container) -> TestClient:
    return TestClient(create_app(container))


@pytest.fixture
def people(container: Container) -> People:
    return load_people(container)


def body_for(people: People, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "id2",
        "purpose": "account_opening",
        "subject": {"document_number": people.number("adult"), "name": people.adult["name"]},
    }
    body.update(overrides)
    return body


def post(http: TestClient, token: str, body: Any, path: str = "/v1/verifications") -> Any:
    return http.post(path, json=body, headers={"Authorization": f"Bearer {token}"})


def test_verify_over_http(container: Container, http: TestClient, people: People) -> None:
    bank = ApprovedInstitution(container)
    response = post(http, bank.token(http), body_for(people))
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    answer = response.json()
    assert answer["result"] == "match" and answer["type"] == "id2"
    assert set(answer) == {
        "verification_id",
        "type",
        "result",
        "pseudonym",
        "markers",
        "claims",
        "receipt",
    }
    assert answer["receipt"]["id"] == answer["verification_id"]


def test_without_a_valid_token_401(container: Container, http: TestClient, people: People) -> None:
    for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic eA=="}):
        response = http.post("/v1/verifications", json=body_for(people), headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_token"
        assert "invalid_token" in response.headers["www-authenticate"]


def test_bad_input_is_a_4xx_with_a_code_and_writes_nothing(
    container: Container, http: TestClient, people: People
) -> None:
    bank = ApprovedInstitution(container)
    token = bank.token(http)
    cases: list[tuple[Any, int, str]] = [
        (body_for(people, extra=1), 422, "invalid_request"),  # unknown field
        (body_for(people, type="id9"), 422, "invalid_request"),
        (body_for(people, type="age_over"), 422, "invalid_request"),  # no threshold
        (body_for(people, threshold=18), 422, "invalid_request"),  # threshold on id2
        ({"type": "id2"}, 422, "invalid_request"),
        ([], 422, "invalid_request"),
        (
            body_for(people, subject={"document_number": "1", "name": "x", "phone": "1"}),
            422,
            "invalid_request",
        ),  # a phone the type does not use is refused, not stored
    ]
    for body, status, code in cases:
        response = post(http, token, body)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), body
        assert people.number("adult") not in response.text
    big = {
        "type": "id2",
        "purpose": "account_opening",
        "subject": {"document_number": "x" * (2 * 1024 * 1024), "name": "y"},
    }
    assert post(http, token, big).status_code == 413
    not_json = http.post(
        "/v1/verifications",
        content=b"{",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert not_json.status_code == 422
    with container.transaction(write=False) as session:
        assert (
            container.billing(session).statement(dt.datetime.now(dt.UTC).strftime("%Y-%m")).lines
            == []
        )


def test_refusals_over_http(container: Container, http: TestClient, people: People) -> None:
    bank = ApprovedInstitution(container, quotas={"id2": 1})
    token = bank.token(http)
    invalid = post(
        http,
        token,
        body_for(people, subject={"document_number": "110105199003070012", "name": "某"}),
    )
    assert invalid.status_code == 400
    error = invalid.json()["error"]
    assert error["code"] == "invalid_document_number" and error["details"]["rule"] == "check_digit"
    assert error["details"]["receipt"]["id"]  # refused, and the refusal has its receipt
    denied = post(http, token, body_for(people, purpose="payment", claims=["name"]))
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "policy_denied"
    unregistered = post(http, token, body_for(people, purpose="loan"))
    assert unregistered.json()["error"]["code"] == "purpose_not_registered"
    consent = post(http, token, body_for(people, claims=["name"]))
    assert consent.status_code == 403 and consent.json()["error"]["code"] == "consent_required"
    assert post(http, token, body_for(people)).status_code == 200
    over = post(http, token, body_for(people))
    assert over.status_code == 429
    assert over.json()["error"]["code"] == "quota_exceeded"
    assert int(over.headers["retry-after"]) >= 1
    assert over.json()["error"]["details"]["reset_at"].endswith("Z")


def test_a_frozen_institution_is_refused_with_its_token_still_valid(
    container: Container, http: TestClient, people: People
) -> None:
    bank = ApprovedInstitution(container)
    token = bank.token(http)
    assert post(http, token, body_for(people)).status_code == 200
    with container.transaction() as session:
        container.institutions(session).freeze(bank.id, actor=ACTOR, reason="anomaly")
    response = post(http, token, body_for(people))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "institution_frozen"
    with container.transaction() as session:
        container.institutions(session).unfreeze(bank.id, actor=ACTOR, reason="cleared")
    assert post(http, token, body_for(people)).status_code == 200


def test_batch(container: Container, http: TestClient, people: People) -> None:
    bank = ApprovedInstitution(container)
    token = bank.token(http)
    items = [
        body_for(people),
        body_for(people, subject={"document_number": people.number("minor"), "name": "错"}),
        body_for(people, purpose="payment", claims=["name"]),
        body_for(people, subject={"document_number": "110105199003070012", "name": "某"}),
    ]
    response = post(http, token, {"items": items}, "/v1/verifications/batch")
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["index"] for r in results] == [0, 1, 2, 3]
    assert results[0]["answer"]["result"] == "match"
    assert results[1]["answer"]["result"] == "mismatch"
    assert results[2]["error"]["code"] == "policy_denied"
    assert results[3]["error"]["code"] == "invalid_document_number"
    ids = {
        r["answer"]["receipt"]["id"] if "answer" in r else r["error"]["details"]["receipt"]["id"]
        for r in results
    }
    assert len(ids) == 4  # one receipt each
    too_many = post(http, token, {"items": [body_for(people)] * 1001}, "/v1/verifications/batch")
    assert too_many.status_code in (413, 422)
    faces = post(
        http,
        token,
        {
            "items": [
                body_for(
                    people,
                    type="face",
                    subject={"document_number": "1", "name": "x", "face_image": "AAAA"},
                )
            ]
        },
        "/v1/verifications/batch",
    )
    assert faces.status_code == 422


def test_openapi_documents_the_verification_api(http: TestClient) -> None:
    spec = http.get("/openapi.json").json()
    operation = spec["paths"]["/v1/verifications"]["post"]
    assert {"200", "401", "403", "422", "429"} <= set(operation["responses"])
    schemas = spec["components"]["schemas"]
    assert "VerificationRequest" in schemas and "VerificationAnswer" in schemas
    assert "/v1/verifications/batch" in spec["paths"]
    json.dumps(spec)


def test_the_lean_route_answers_as_the_documented_one(
    container: Container, http: TestClient, people: People
) -> None:
    """``POST /v1/verifications`` is served by a plain Starlette route matched first
    (netid.web.routes_verification.lean_routes); the FastAPI route behind it documents the
    contract. Both give the same answers to the same bad requests."""
    lean_app = create_app(container)
    first = lean_app.router.routes[0]
    assert (getattr(first, "path", None), getattr(first, "methods", None)) == (
        "/v1/verifications",
        {"POST"},
    )
    fastapi_app = create_app(container)
    fastapi_app.router.routes.remove(fastapi_app.router.routes[0])
    documented = TestClient(fastapi_app)
    token = ApprovedInstitution(container).token(http)
    auth = {"Authorization": f"Bearer {token}"}
    valid = json.dumps(body_for(people)).encode()
    big_int = json.dumps(body_for(people, type="age_over", threshold=2**70)).encode()
    requests: list[dict[str, Any]] = [
        {"json": body_for(people, extra=1), "headers": auth},
        {"json": body_for(people, type="id9"), "headers": auth},
        {"json": {"type": "id2"}, "headers": auth},
        {"json": [], "headers": auth},
        {"content": b"{", "headers": {**auth, "Content-Type": "application/json"}},
        {"content": b"{}", "headers": {**auth, "Content-Type": "text/plain"}},
        {"content": valid, "headers": auth},  # no media type at all: not read as JSON
        {"content": valid, "headers": {**auth, "Content-Type": "text/x+json"}},
        {"content": b"", "headers": {**auth, "Content-Type": "application/json"}},
        {"content": b"\xff\xfe{", "headers": {**auth, "Content-Type": "application/json"}},
        {"content": b'{"type": NaN}', "headers": {**auth, "Content-Type": "application/json"}},
        {"content": big_int, "headers": {**auth, "Content-Type": "application/json"}},
        {"json": body_for(people), "headers": {}},
        {"json": body_for(people), "headers": {"Authorization": "Bearer nonsense"}},
    ]
    for request in requests:
        ours = http.post("/v1/verifications", **request)
        theirs = documented.post("/v1/verifications", **request)
        assert ours.status_code == theirs.status_code, request
        assert ours.json()["error"]["code"] == theirs.json()["error"]["code"], request
        assert ours.headers.get("www-authenticate") == theirs.headers.get("www-authenticate")
        assert ours.json() == theirs.json(), request  # the same problems, located alike
    # and a match through both, also in UTF-16 and under a +json or charset media type
    for client in (http, documented):
        for content, media in (
            (valid, "application/json"),
            (valid.decode().encode("utf-16"), "application/json"),
            (valid, "application/vnd.netid+json"),
            (valid, "application/json; charset=utf-8"),
        ):
            answer = client.post(
                "/v1/verifications", content=content, headers={**auth, "Content-Type": media}
            )
            assert answer.status_code == 200 and answer.json()["result"] == "match", media
