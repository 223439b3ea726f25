"""The monitoring admin API over HTTP (the real app, real tokens): alerts, resolution, the watch
list, rules and business hours; every role but the security administrator refused; and
parallel HTTP clients against a D = 5 rule."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from netid.audit.models import AccessRecord
from netid.container import Container
from netid.monitoring.models import MonitorMark
from netid.web.app import create_app
from tests.admins import support as admins
from tests.monitoring.support import (
    id2,
    load_population,
    monitored_container,
    rules_document,
    unknown_numbers,
)
from tests.verification.support import ApprovedInstitution

pytestmark = pytest.mark.db


@pytest.fixture
def c(container: Container, tmp_path: Path, request: pytest.FixtureRequest) -> Container:
    """The database counters, or Redis for tests that take the ``store`` fixture."""
    store = request.getfixturevalue("store") if "store" in request.fixturenames else {}
    return monitored_container(
        container,
        tmp_path,
        rules_document(distinct_people={"max_distinct": 5}, watch_list={}),
        **store,
    )


@pytest.fixture
def http(c: Container) -> Iterator[TestClient]:
    with TestClient(create_app(c)) as client:
        yield client


@pytest.fixture
def security(c: Container) -> dict[str, str]:
    return admins.admin_headers(c, "security_admin")


def bank_headers(c: Container, http: TestClient) -> tuple[ApprovedInstitution, dict[str, str]]:
    bank = ApprovedInstitution(c, quotas={"id2": 1000})
    return bank, {"Authorization": f"Bearer {bank.token(http)}"}


def actions(c: Container) -> list[str]:
    with c.transaction(write=False) as session:
        return list(session.scalars(select(AccessRecord.action).order_by(AccessRecord.seq)))


def test_parallel_http_clients_no_more_than_the_threshold_succeed(
    store: dict[str, Any], c: Container, http: TestClient, security: dict[str, str]
) -> None:
    people = load_population(c, 30)
    bank, headers = bank_headers(c, http)
    barrier = threading.Barrier(len(people))
    statuses: list[tuple[int, str | None]] = []
    lock = threading.Lock()

    def client(person: dict[str, Any]) -> None:
        barrier.wait()
        response = http.post(
            "/v1/verifications",
            json=id2(person["documents"][0]["number"]),
            headers=headers,
        )
        code = response.json().get("error", {}).get("code")
        with lock:
            statuses.append((response.status_code, code))

    threads = [threading.Thread(target=client, args=(p,)) for p in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    answered = [s for s in statuses if s[0] == 200]
    assert len(answered) == 5
    assert sorted(set(statuses) - set(answered)) == [(403, "institution_frozen")]
    with c.transaction(write=False) as session:  # the store in use did the counting
        marks = session.scalar(select(func.count()).select_from(MonitorMark))
    assert (marks == 0) is bool(store["redis_url"])

    alerts = http.get("/v1/admin/alerts", headers=security).json()
    assert [(a["rule"], a["institution_id"], a["status"]) for a in alerts] == [
        ("distinct_people", bank.id, "open")
    ]
    detail = http.get(f"/v1/admin/institutions/{bank.id}", headers=security).json()
    assert detail["status"] == "frozen"
    assert detail["history"][-1]["actor"] == "monitor:distinct_people"

    # Review, resolve, unfreeze (with a reason, audited): the bank works again.
    alert_id = alerts[0]["id"]
    resolved = http.post(
        f"/v1/admin/alerts/{alert_id}/resolve", json={"reason": "payroll batch"}, headers=security
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "resolved"
    assert resolved.json()["resolved_by"].startswith("admin:")
    again = http.post(
        f"/v1/admin/alerts/{alert_id}/resolve", json={"reason": "twice"}, headers=security
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "alert_already_resolved"
    unfrozen = http.post(
        f"/v1/admin/institutions/{bank.id}/unfreeze", json={"reason": "reviewed"}, headers=security
    )
    assert unfrozen.status_code == 200, unfrozen.text
    ok = http.post(
        "/v1/verifications", json=id2(people[0]["documents"][0]["number"]), headers=headers
    )
    assert ok.status_code == 200, ok.text
    assert "institution.unfreeze" in actions(c)
    assert "monitoring.alert_resolve" in actions(c)


def test_watch_list_over_http(c: Container, http: TestClient, security: dict[str, str]) -> None:
    [person] = load_population(c, 1)
    number = person["documents"][0]["number"]
    added = http.post("/v1/admin/watchlist", json={"document_number": number}, headers=security)
    assert added.status_code == 201, added.text
    entry = added.json()
    assert number not in added.text
    listed = http.get("/v1/admin/watchlist", headers=security)
    assert [e["id"] for e in listed.json()] == [entry["id"]]

    _, headers = bank_headers(c, http)
    assert http.post("/v1/verifications", json=id2(number), headers=headers).status_code == 200
    [alert] = http.get("/v1/admin/alerts", params={"status": "open"}, headers=security).json()
    assert alert["rule"] == "watch_list"
    assert alert["details"]["watch_id"] == entry["id"]
    assert number not in str(alert)
    one = http.get(f"/v1/admin/alerts/{alert['id']}", headers=security)
    assert one.json() == alert
    assert http.get("/v1/admin/alerts/nope", headers=security).status_code == 404

    removed = http.post(
        "/v1/admin/watchlist/remove", json={"document_number": number}, headers=security
    )
    assert removed.status_code == 200
    gone = http.post(
        "/v1/admin/watchlist/remove", json={"document_number": number}, headers=security
    )
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "watch_entry_not_found"
    bad = http.post("/v1/admin/watchlist", json={"document_number": "123"}, headers=security)
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_document_number"
    extra = http.post(
        "/v1/admin/watchlist", json={"document_number": number, "name": "x"}, headers=security
    )
    assert extra.status_code == 422
    assert {"monitoring.watch_add", "monitoring.watch_remove", "monitoring.alert"} <= set(
        actions(c)
    )


def test_rules_and_business_hours(c: Container, http: TestClient, security: dict[str, str]) -> None:
    rules = http.get("/v1/admin/monitoring/rules", headers=security)
    assert rules.status_code == 200
    body = rules.json()
    assert body["version"] == "test-1"
    assert body["defaults"]["distinct_people"]["max_distinct"] == 5
    assert "banking_finance" in body["industries"]

    bank, _ = bank_headers(c, http)
    url = f"/v1/admin/institutions/{bank.id}/business-hours"
    hours = {"days": ["mon", "tue"], "start": "08:30", "end": "17:00"}
    put = http.put(url, json={"business_hours": hours}, headers=security)
    assert put.status_code == 200, put.text
    assert put.json()["business_hours"] == hours
    wrong = http.put(url, json={"business_hours": {**hours, "start": "18:00"}}, headers=security)
    assert wrong.status_code == 400
    assert wrong.json()["error"]["code"] == "invalid_business_hours"
    reset = http.put(url, json={"business_hours": None}, headers=security)
    assert reset.json()["business_hours"] is None
    missing = http.put(
        "/v1/admin/institutions/nope/business-hours",
        json={"business_hours": None},
        headers=security,
    )
    assert missing.status_code == 404


ROUTES = [
    ("GET", "/v1/admin/alerts", None),
    ("GET", "/v1/admin/alerts/x", None),
    ("POST", "/v1/admin/alerts/x/resolve", {"reason": "r"}),
    ("GET", "/v1/admin/watchlist", None),
    ("POST", "/v1/admin/watchlist", {"document_number": "110105199003070012"}),
    ("POST", "/v1/admin/watchlist/remove", {"document_number": "110105199003070012"}),
    ("GET", "/v1/admin/monitoring/rules", None),
    ("PUT", "/v1/admin/institutions/x/business-hours", {"business_hours": None}),
]


@pytest.mark.parametrize("role", ["system_admin", "audit_admin", "registrar", "reviewer", None])
def test_only_the_security_administrator(c: Container, http: TestClient, role: str | None) -> None:
    headers = admins.admin_headers(c, role) if role else {}
    for method, path, body in ROUTES:
        response = http.request(method, path, json=body, headers=headers)
        assert response.status_code == (403 if role else 401), (method, path, response.text)


def test_a_batch_trips_the_rule_mid_way(
    c: Container, http: TestClient, security: dict[str, str]
) -> None:
    _, headers = bank_headers(c, http)
    items = [id2(n) for n in unknown_numbers(8)]
    response = http.post("/v1/verifications/batch", json={"items": items}, headers=headers)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r.get("answer", {}).get("result") for r in results[:5]] == ["mismatch"] * 5
    assert [r["error"]["code"] for r in results[5:]] == ["institution_frozen"] * 3
    assert len(http.get("/v1/admin/alerts", headers=security).json()) == 1
