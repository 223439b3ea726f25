"""``POST /v1/admin/login`` and the admin session over HTTP on every backend: a good login,
every failure kind identical to the caller, a TOTP code accepted once, the lockout's growing
delay on a fixed clock, a disabled account refused with its token still unexpired, logout,
and the audit administrator's view of the administrators' actions."""

from __future__ import annotations

import datetime as dt
import statistics
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from netid.config import Settings
from netid.container import Container
from netid.core.clock import FixedClock
from netid.web.app import create_app
from tests.admins.support import PASSWORD, admin_headers, code, create_admin
from tests.conftest import Backend

pytestmark = pytest.mark.db
T0 = dt.datetime(2026, 12, 2, 3, 0, 5, tzinfo=dt.UTC)  # 5 s into a TOTP step


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def clocked(settings: Settings, db: Backend, container: Container, clock: FixedClock) -> Container:
    return Container(settings, clock=clock, engine=db.engine)


@pytest.fixture
def http(clocked: Container) -> TestClient:
    return TestClient(create_app(clocked))


def login(http: TestClient, username: str, otp: str, password: str = PASSWORD) -> Any:
    return http.post(
        "/v1/admin/login", json={"username": username, "password": password, "totp": otp}
    )


def bearer(response: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def shape(response: Any) -> tuple[int, str, dict[str, str]]:
    headers = {k: v for k, v in response.headers.items() if k != "date"}
    return response.status_code, response.text, headers


def test_a_good_login(http: TestClient, clocked: Container) -> None:
    account, secret = create_admin(clocked, "security_admin", "alice")
    response = login(http, "alice", code(secret, T0))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert body["role"] == "security_admin" and body["actor"] == f"admin:{account.id}"
    assert response.headers["cache-control"] == "no-store"
    me = http.get("/v1/admin/me", headers=bearer(response))
    assert me.status_code == 200 and me.json()["username"] == "alice"
    # 15 minutes later the token has expired
    clocked.clock.advance(dt.timedelta(seconds=900))  # type: ignore[attr-defined]
    assert http.get("/v1/admin/me", headers=bearer(response)).status_code == 401


def test_every_failure_looks_the_same(http: TestClient, clocked: Container) -> None:
    _, secret = create_admin(clocked, "audit_admin", "bob")
    _, other = create_admin(clocked, "reviewer", "carol")
    with clocked.transaction() as session:
        clocked.admins(session).disable("carol", actor="operator:test")
    good = code(secret, T0)
    failures = {
        "unknown user": login(http, "nobody", good),
        "malformed user": login(http, "Not A User!", good),
        "wrong password": login(http, "bob", good, password=PASSWORD + "!"),
        "wrong code": login(http, "bob", code(secret, T0, steps=3)),
        "disabled": login(http, "carol", code(other, T0)),
    }
    assert login(http, "bob", good).status_code == 200
    failures["replayed code"] = login(http, "bob", good)
    shapes = {name: shape(r) for name, r in failures.items()}
    first = next(iter(shapes.values()))
    assert first[0] == 401
    assert '"code":"login_failed"' in first[1]
    for name, got in shapes.items():
        assert got == first, name


def test_failures_take_about_as_long_as_a_wrong_password(
    http: TestClient, clocked: Container
) -> None:
    """ASVS 6.3.8 (timing): an unknown user costs one Argon2id hash too (a dummy one)."""
    create_admin(clocked, "reviewer", "dora")

    def timed(username: str) -> float:
        started = time.perf_counter()
        assert login(http, username, "000000", password="wrong password 1").status_code == 401
        return time.perf_counter() - started

    unknown = statistics.median(timed("nobody") for _ in range(5))
    known = statistics.median(timed("dora") for _ in range(5))
    assert 0.5 < unknown / known < 2.0, (unknown, known)


def test_lockout_grows_and_refuses_the_right_credentials(
    http: TestClient, clocked: Container, clock: FixedClock
) -> None:
    _, secret = create_admin(clocked, "system_admin", "erin")
    refused = login(http, "erin", "000000", password="not the password")
    for _ in range(4):  # failures 2-5: the 5th locks for 1 s
        assert shape(login(http, "erin", "000000", password="not the password")) == shape(refused)
    locked = login(http, "erin", code(secret, clock.now()))
    assert shape(locked) == shape(refused)  # locked: the right password and code are refused
    clock.advance(dt.timedelta(seconds=1))
    assert login(http, "erin", "000000", password="not the password").status_code == 401  # 6th
    clock.advance(dt.timedelta(seconds=1))  # the 6th locked for 2 s: still locked
    assert login(http, "erin", code(secret, clock.now())).status_code == 401
    clock.advance(dt.timedelta(seconds=1))
    assert login(http, "erin", code(secret, clock.now())).status_code == 200


def test_a_disabled_account_is_refused_with_a_live_token(
    http: TestClient, clocked: Container
) -> None:
    _, secret = create_admin(clocked, "security_admin", "frank")
    headers = bearer(login(http, "frank", code(secret, T0)))
    assert http.get("/v1/admin/institutions", headers=headers).status_code == 200
    with clocked.transaction() as session:
        clocked.admins(session).disable("frank", actor="operator:test")
    refused = http.get("/v1/admin/institutions", headers=headers)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_token"


def test_logout_and_a_new_login_end_the_previous_session(
    http: TestClient, clocked: Container, clock: FixedClock
) -> None:
    _, secret = create_admin(clocked, "reviewer", "gina")
    first = bearer(login(http, "gina", code(secret, T0)))
    clock.advance(dt.timedelta(seconds=30))
    second = bearer(login(http, "gina", code(secret, clock.now())))
    assert http.get("/v1/admin/me", headers=first).status_code == 401  # replaced
    assert http.get("/v1/admin/me", headers=second).status_code == 200
    out = http.post("/v1/admin/logout", headers=second)
    assert out.status_code == 204 and out.content == b""
    assert http.get("/v1/admin/me", headers=second).status_code == 401


def test_the_audit_administrator_reads_the_administrators_actions(
    http: TestClient, clocked: Container
) -> None:
    security = admin_headers(clocked, "security_admin")
    assert http.get("/v1/admin/institutions", headers=security).status_code == 200
    assert login(http, "nobody", "123456").status_code == 401
    audit = admin_headers(clocked, "audit_admin")
    assert http.get("/v1/admin/actions", headers=security).status_code == 403
    listed = http.get("/v1/admin/actions", headers=audit)
    assert listed.status_code == 200
    entries = listed.json()
    actions = [(e["action"], e["outcome"]) for e in entries]
    assert ("admin.create", "ok") in actions and ("admin.login", "ok") in actions
    assert ("admin.login", "refused") in actions
    assert ("admin.request", "allowed") in actions and ("admin.request", "denied") in actions
    assert all(
        e["actor"].startswith(("admin:", "operator:")) or e["action"].startswith("admin.")
        for e in entries
    )
    assert PASSWORD not in listed.text and "access_token" not in listed.text
    seqs = [e["seq"] for e in entries]
    assert seqs == sorted(seqs)
    page = http.get(
        "/v1/admin/actions", params={"after": seqs[1], "limit": 2}, headers=audit
    ).json()
    assert [e["seq"] for e in page] == seqs[2:4]
    assert http.get("/v1/admin/actions", params={"limit": 0}, headers=audit).status_code == 422


def test_malformed_login_bodies_are_422(http: TestClient) -> None:
    for body in (
        {},
        {"username": "a", "password": "b"},
        {"username": "a" * 65, "password": "b", "totp": "1"},
        {"username": "a", "password": "b", "totp": "1", "extra": 1},
    ):
        response = http.post("/v1/admin/login", json=body)
        assert response.status_code == 422, body


def test_the_system_administrator_sees_keys_and_health_only(
    http: TestClient, clocked: Container
) -> None:
    system = admin_headers(clocked, "system_admin")
    keys = http.get("/v1/admin/keys", headers=system)
    assert keys.status_code == 200
    listed = keys.json()
    assert {k["purpose"] for k in listed} >= {"data", "token_mac", "sm2_signing"}
    assert all(
        set(k) == {"key_id", "purpose", "algorithm", "state", "created_at", "retired_at"}
        for k in listed
    )
    health = http.get("/v1/admin/health", headers=system).json()
    assert health["database"] == "ok" and health["schema_up_to_date"] is True
    for path in ("/v1/admin/institutions", "/v1/admin/actions"):
        assert http.get(path, headers=system).status_code == 403
    security = admin_headers(clocked, "security_admin")
    assert http.get("/v1/admin/keys", headers=security).status_code == 403
