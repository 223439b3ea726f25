from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError

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


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    yield b'{"numbers": ["'
    sent = 0
    while sent < total:
        yield b"1" * size
        sent += size
    yield b'"]}'


def test_oversized_chunked_body_is_refused(client: TestClient) -> None:
    # A generator body has no Content-Length: the limit must hold while reading.
    response = client.post(
        "/v1/documents/check",
        content=_chunks(2 * 1024 * 1024),
        headers={"content-type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "payload_too_large"


def test_chunked_body_within_the_limit_reaches_the_route(client: TestClient) -> None:
    def body() -> Iterator[bytes]:
        yield b'{"numbers": '
        yield b'["11010519491231002x"]}'

    response = client.post(
        "/v1/documents/check", content=body(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["valid"] is True


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (IntegrityError("INSERT x", {"n": "11010519491231002X"}, Exception()), 409, "conflict"),
        (ProgrammingError("SELECT x", {}, Exception()), 500, "internal_error"),
        (DBAPIError("SELECT x", {}, Exception()), 500, "internal_error"),
        (OperationalError("SELECT 1", {}, Exception()), 503, "unavailable"),
    ],
)
def test_database_errors_map_to_the_right_status(
    container: Container, error: Exception, status: int, code: str
) -> None:
    app = create_app(container)

    async def fail() -> None:
        raise error

    app.add_api_route("/v1/test-fail", fail, methods=["GET"])
    response = TestClient(app, raise_server_exceptions=False).get("/v1/test-fail")
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert response.headers["cache-control"] == "no-store"
    assert "11010519491231002X" not in response.text
    assert "INSERT" not in response.text and "SELECT" not in response.text


def test_unexpected_extra_key_is_not_echoed(client: TestClient) -> None:
    response = client.post(
        "/v1/documents/check",
        content='{"numbers": ["1"], "张三": 1}'.encode(),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    assert "张三" not in response.text
    assert "\\u5f20" not in response.text.lower()
    problems = response.json()["error"]["details"]["problems"]
    assert problems == [{"location": ["body", "<extra>"], "type": "extra_forbidden"}]


def test_validation_errors_never_echo_input_or_context(client: TestClient) -> None:
    response = client.post(
        "/v1/documents/check",
        json={"numbers": ["11010519491231002X" * 20], "uscc": "secret-value"},
    )
    assert response.status_code == 422
    assert "11010519491231002X" not in response.text and "secret-value" not in response.text
    for problem in response.json()["error"]["details"]["problems"]:
        assert set(problem) == {"location", "type"}
