from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from netid.config import Settings
from netid.container import Container
from netid.db.engine import make_engine
from netid.web.app import create_app
from tests.conftest import Backend

pytestmark = pytest.mark.db


@pytest.fixture
def client(container: Container) -> TestClient:
    return TestClient(create_app(container))


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}


def test_readiness_fails_cleanly_when_the_database_is_absent(tmp_path: object) -> None:
    settings = Settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    container = Container(settings)
    response = TestClient(create_app(container)).get("/readyz")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "database_unavailable"
    container.engine.dispose()


def test_readiness_reports_an_unmigrated_schema(db: Backend, tmp_path: object) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/empty.sqlite3")
    client = TestClient(create_app(Container(Settings(), engine=engine)))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "schema_outdated"
    engine.dispose()


def test_openapi_documents_the_routes(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/healthz", "/readyz", "/v1/documents/check"} <= set(spec["paths"])
    assert client.get("/docs").status_code == 200


def test_document_check(client: TestClient) -> None:
    response = client.post(
        "/v1/documents/check", json={"numbers": ["11010519491231002x", "110105194912310021"]}
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    first, second = response.json()["results"]
    assert first["valid"] is True and first["normalized"] == "11010519491231002X"
    assert first["sex"] == "F" and first["birth_date"] == "1949-12-31"
    assert second["valid"] is False and second["rule"] == "check_digit" and second["message"]
    assert "normalized" not in second
    uscc = client.post(
        "/v1/documents/check", json={"numbers": ["91350100M000100Y43"], "uscc": True}
    )
    assert uscc.json()["results"][0]["valid"] is True


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{", "application/json"),
        (b'{"numbers": []}', "application/json"),
        (b'{"numbers": ["1"], "extra": 1}', "application/json"),
        (b'{"numbers": "11010519491231002X"}', "application/json"),
        (b'{"numbers": [1]}', "application/json"),
        (b"[" * 10000, "application/json"),
        (b"numbers=1", "application/x-www-form-urlencoded"),
        (b'{"numbers": ["\\ud800"]}', "application/json"),
    ],
)
def test_bad_input_gets_a_clear_4xx(client: TestClient, body: bytes, content_type: str) -> None:
    response = client.post(
        "/v1/documents/check", content=body, headers={"content-type": content_type}
    )
    assert 400 <= response.status_code < 500, response.text
    error = response.json()["error"]
    assert error["code"] and error["message"]
    assert "11010519491231002X" not in response.text


def test_oversized_body_is_refused_before_parsing(client: TestClient) -> None:
    response = client.post(
        "/v1/documents/check",
        content=b'{"numbers": ["' + b"1" * (2 * 1024 * 1024) + b'"]}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_unknown_route_and_method(client: TestClient) -> None:
    missing = client.get("/v1/nothing")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong = client.get("/v1/documents/check")
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"
