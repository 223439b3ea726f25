"""``GET /v1/receipts/{id}`` and ``GET /v1/statements/{month}`` over HTTP against the real app,
with real access tokens from ``/oauth2/token`` for approved institutions, on both backends."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient

from netid.billing.receipts import published_sm2_keys, verify_receipt
from netid.container import Container
from netid.keys.export import public_key_document
from netid.web.app import create_app
from tests.billing.factories import verify_and_charge
from tests.verification.support import ACTOR, ApprovedInstitution

pytestmark = pytest.mark.db

NOVEMBER = dt.datetime(2026, 11, 20, 3, 0, tzinfo=dt.UTC)


class Institution(ApprovedInstitution):
    def __init__(self, container: Container, industry: str, purposes: list[str]) -> None:
        super().__init__(container, industry, tuple(purposes))

    def token(self, http: TestClient, scope: str | None = None) -> dict[str, str]:  # type: ignore[override]
        return self.bearer(http, scope)

    def charge(self, container: Container, **kwargs: Any) -> dict[str, Any]:
        return verify_and_charge(container, code=self.code, institution_id=self.id, **kwargs)


@pytest.fixture
def http(container: Container) -> TestClient:
    return TestClient(create_app(container))


@pytest.fixture
def bank(container: Container) -> Institution:
    return Institution(container, "banking_finance", ["account_opening", "payment"])


@pytest.fixture
def hotel(container: Container) -> Institution:
    return Institution(container, "hotel_lodging", ["hotel_check_in"])


def test_receipt_for_its_institution_only(
    container: Container, http: TestClient, bank: Institution, hotel: Institution
) -> None:
    receipt = bank.charge(container, price_fen=10, at=NOVEMBER)
    response = http.get(f"/v1/receipts/{receipt['id']}", headers=bank.token(http))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    signed = response.json()
    with container.transaction(write=False) as session:
        published = public_key_document(container.keyring_service(session).public_keys())
    assert verify_receipt(signed, published_sm2_keys(published)) == receipt

    hotel_headers = hotel.token(http)
    other = http.get(f"/v1/receipts/{receipt['id']}", headers=hotel_headers)
    missing = http.get(f"/v1/receipts/{'0' * 32}", headers=hotel_headers)
    assert other.status_code == missing.status_code == 404
    assert other.json() == missing.json()
    assert other.json()["error"]["code"] == "receipt_not_found"

    assert http.get(f"/v1/receipts/{receipt['id']}").status_code == 401
    assert (
        http.get(f"/v1/receipts/{receipt['id']}", headers={"Authorization": "Bearer x"}).status_code
        == 401
    )


def test_scopes_and_status_are_enforced(
    container: Container, http: TestClient, bank: Institution
) -> None:
    receipt = bank.charge(container, at=NOVEMBER)
    verification_only = bank.token(http, scope="verification")
    refused = http.get(f"/v1/receipts/{receipt['id']}", headers=verification_only)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "insufficient_scope"
    assert http.get("/v1/statements/2026-11", headers=verification_only).status_code == 403
    receipts_only = bank.token(http, scope="receipts")
    assert http.get(f"/v1/receipts/{receipt['id']}", headers=receipts_only).status_code == 200
    assert http.get("/v1/statements/2026-11", headers=receipts_only).status_code == 403

    headers = bank.token(http)
    with container.transaction() as session:
        container.institutions(session).freeze(bank.id, actor=ACTOR, reason="test")
    # The token is still unexpired; the freeze applies on the very next request.
    frozen = http.get(f"/v1/receipts/{receipt['id']}", headers=headers)
    assert frozen.status_code == 403
    assert http.get("/v1/statements/2026-11", headers=headers).status_code == 403


def test_own_statement_json_and_csv(
    container: Container, http: TestClient, bank: Institution, hotel: Institution
) -> None:
    for _ in range(3):
        bank.charge(container, price_fen=10, at=NOVEMBER)
    bank.charge(container, type_="face", price_fen=30, at=NOVEMBER)
    bank.charge(container, result_class="refused", price_fen=0, at=NOVEMBER)
    # 23:30 UTC on 31 October is 1 November in China: on the November statement.
    bank.charge(container, price_fen=10, at=dt.datetime(2026, 10, 31, 23, 30, tzinfo=dt.UTC))
    bank.charge(container, price_fen=10, at=dt.datetime(2026, 10, 31, 15, 0, tzinfo=dt.UTC))
    hotel.charge(container, price_fen=10, purpose="hotel_check_in", at=NOVEMBER)

    headers = bank.token(http)
    response = http.get("/v1/statements/2026-11", headers=headers)
    assert response.status_code == 200, response.text
    statement = response.json()
    assert statement["institution_code"] == bank.code
    assert [
        (ln["verification_type"], ln["result_class"], ln["count"], ln["amount_fen"])
        for ln in statement["lines"]
    ] == [("face", "match", 1, 30), ("id2", "match", 4, 40), ("id2", "refused", 1, 0)]
    assert statement["totals"] == {"count": 6, "amount_fen": 70, "amount_yuan": "0.70"}
    assert {ln["institution_code"] for ln in statement["lines"]} == {bank.code}

    october = http.get("/v1/statements/2026-10", headers=headers).json()
    assert october["totals"] == {"count": 1, "amount_fen": 10, "amount_yuan": "0.10"}

    as_csv = http.get("/v1/statements/2026-11", headers={**headers, "Accept": "text/csv"})
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = as_csv.text.splitlines()
    assert rows[0].startswith("month,institution_code")
    assert rows[1:] == [
        f"2026-11,{bank.code},{bank.id},face,match,1,30,0.30,CNY",
        f"2026-11,{bank.code},{bank.id},id2,match,4,40,0.40,CNY",
        f"2026-11,{bank.code},{bank.id},id2,refused,1,0,0.00,CNY",
    ]

    hotel_statement = http.get("/v1/statements/2026-11", headers=hotel.token(http)).json()
    assert hotel_statement["totals"]["count"] == 1

    for bad in ("2026-13", "November", "2026-1", "%20"):
        refused = http.get(f"/v1/statements/{bad}", headers=headers)
        assert refused.status_code == 400, bad
        assert refused.json()["error"]["code"] == "invalid_month"


def test_openapi_documents_the_routes(http: TestClient) -> None:
    paths = http.get("/openapi.json").json()["paths"]
    assert "get" in paths["/v1/receipts/{receipt_id}"]
    assert "get" in paths["/v1/statements/{month}"]


def test_receipts_and_statement_of_real_verifications(
    container: Container, http: TestClient, bank: Institution
) -> None:
    """End to end through ``POST /v1/verifications``: the answer's receipt is fetched, verified
    offline, and counted on the statement — the refusal too, at 0."""
    from netid.core.clock import CHINA_TZ
    from tests.verification.support import load_people

    people = load_people(container)
    headers = bank.token(http)
    subject = {"document_number": people.number("adult"), "name": people.adult["name"]}
    answered = http.post(
        "/v1/verifications",
        json={"type": "id2", "purpose": "account_opening", "subject": subject},
        headers=headers,
    )
    assert answered.status_code == 200, answered.text
    refused = http.post(
        "/v1/verifications",
        json={"type": "id2", "purpose": "hotel_check_in", "subject": subject},
        headers=headers,
    )
    assert refused.status_code in (400, 403), refused.text
    receipt_ids = [
        answered.json()["receipt"]["id"],
        refused.json()["error"]["details"]["receipt"]["id"],
    ]
    with container.transaction(write=False) as session:
        keys = published_sm2_keys(
            public_key_document(container.keyring_service(session).public_keys())
        )
    receipts = []
    for receipt_id in receipt_ids:
        response = http.get(f"/v1/receipts/{receipt_id}", headers=headers)
        assert response.status_code == 200, response.text
        receipts.append(verify_receipt(response.json(), keys))
    assert receipts[0]["result_class"] == "match" and receipts[0]["institution_code"] == bank.code
    assert receipts[0]["log_index"] == answered.json()["receipt"]["log_index"]
    assert receipts[1]["result_class"] == "refused" and receipts[1]["price_fen"] == 0

    month = dt.datetime.fromisoformat(receipts[0]["time"]).astimezone(CHINA_TZ).strftime("%Y-%m")
    statement = http.get(f"/v1/statements/{month}", headers=headers).json()
    counted = {(ln["result_class"], ln["count"], ln["amount_fen"]) for ln in statement["lines"]}
    assert ("match", 1, receipts[0]["price_fen"]) in counted
    assert ("refused", 1, 0) in counted
    assert statement["totals"]["count"] == 2
