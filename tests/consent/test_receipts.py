"""A consent record as a Kantara KI-CR-v1.1.0 receipt (pure)."""

from __future__ import annotations

import datetime as dt

from netid.consent.receipts import PiiController, kantara_receipt
from netid.consent.schemas import ConsentView

GRANTED = dt.datetime(2026, 11, 22, 4, 0, tzinfo=dt.UTC)


def view(claims: tuple[str, ...], revoked: dt.datetime | None = None) -> ConsentView:
    return ConsentView(
        id="c" * 32,
        institution_id="i" * 32,
        purpose="account_opening",
        claims=claims,
        channel="wallet",
        granted_at=GRANTED,
        expires_at=GRANTED + dt.timedelta(days=30),
        revoked_at=revoked,
    )


def test_the_receipt_has_the_kantara_v1_1_fields() -> None:
    receipt = kantara_receipt(
        view(("name", "document_number")),
        principal_id="ABCD-EFGH-JKLM-NPQR",
        controller=PiiController(name="示例银行", code="NI1", address="domestic"),
        policy_url="https://bank.example/privacy",
        purpose_label="开户",
    )
    assert list(receipt) == [
        "version",
        "jurisdiction",
        "consentTimestamp",
        "collectionMethod",
        "consentReceiptID",
        "language",
        "piiPrincipalId",
        "piiControllers",
        "policyUrl",
        "services",
        "sensitive",
        "spiCat",
    ]
    assert receipt["version"] == "KI-CR-v1.1.0"
    assert receipt["consentTimestamp"] == 1795320000
    assert receipt["piiControllers"] == [
        {
            "piiController": "示例银行",
            "onBehalf": False,
            "contact": "示例银行 (NI1)",
            "address": "domestic",
            "email": "",
            "phone": "",
        }
    ]
    [purpose] = receipt["services"][0]["purposes"]
    assert purpose["purpose"] == "开户"
    assert purpose["purposeCategory"] == ["account_opening"]
    assert purpose["piiCategory"] == ["document_number", "name"]
    assert "2026-12-22T04:00:00+00:00" in purpose["termination"]
    assert (receipt["sensitive"], receipt["spiCat"]) == (True, ["document_number"])


def test_a_revoked_consent_says_when_and_face_is_sensitive() -> None:
    revoked = GRANTED + dt.timedelta(days=2)
    receipt = kantara_receipt(
        view(("face", "age_over_18"), revoked),
        principal_id="X",
        controller=PiiController(name="n", code=None, address="", url="https://n.example"),
        policy_url="https://n.example",
    )
    assert receipt["piiControllers"][0]["piiControllerUrl"] == "https://n.example"
    assert revoked.isoformat() in receipt["services"][0]["purposes"][0]["termination"]
    assert receipt["spiCat"] == ["face"]
