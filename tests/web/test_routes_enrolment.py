"""The enrolment, wallet and issuer routes at the edge: shapes, headers, refusals."""

from __future__ import annotations

import pytest

from netid.config import Settings
from tests.conftest import Backend
from tests.enrolment.support import World, make_world

pytestmark = pytest.mark.db


@pytest.fixture
def world(settings: Settings, db: Backend) -> World:
    return make_world(settings, db)


def test_issuer_metadata_and_jwks(world: World) -> None:
    meta = world.http.get("/.well-known/jwt-vc-issuer")
    assert meta.json() == {"issuer": world.base, "jwks_uri": f"{world.base}/v1/credentials/jwks"}
    jwks = world.http.get("/v1/credentials/jwks")
    keys = jwks.json()["keys"]
    assert len(keys) == 1 and keys[0]["kty"] == "OKP" and "d" not in keys[0]
    assert "max-age" in jwks.headers["cache-control"]


def test_unknown_status_list(world: World) -> None:
    answer = world.http.get("/v1/status-lists/ffffffffffffffff")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "status_list_not_found"


def test_bodies_are_strict_and_answers_not_cached(world: World) -> None:
    answer = world.http.post("/v1/enrolments/status", json={"enrolment_id": "x", "extra": 1})
    assert answer.status_code == 422
    answer = world.http.post("/v1/enrolments", json={"chip": [], "device_jwk": {}})
    assert answer.status_code == 422
    answer = world.http.post("/v1/enrolments/status", json={"enrolment_id": "x" * 22})
    assert answer.status_code == 404 and answer.headers["cache-control"] == "no-store"
    bad_image = {"enrolment_id": "x" * 22, "face_image": "***", "liveness": "a.b.c"}
    answer = world.http.post("/v1/enrolments/face", json=bad_image)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_image"


def test_the_routes_are_in_the_openapi_document(world: World) -> None:
    paths = world.http.get("/openapi.json").json()["paths"]
    for path in (
        "/v1/enrolments",
        "/v1/enrolments/face",
        "/v1/enrolments/otp",
        "/v1/enrolments/otp/resend",
        "/v1/enrolments/complete",
        "/v1/enrolments/status",
        "/v1/wallet/sessions",
        "/v1/wallet/otp",
        "/v1/wallet/qr-refs",
        "/v1/wallet/me",
        "/v1/wallet/credential/refresh",
        "/v1/credentials/jwks",
        "/.well-known/jwt-vc-issuer",
        "/v1/status-lists/{list_id}",
    ):
        assert path in paths, path
