"""Charges → statements (hand-computed totals), China-time month boundaries, signed receipts
through the service, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from netid.billing.errors import InvalidCharge, InvalidMonth, ReceiptInvalid, ReceiptNotFound
from netid.billing.receipts import published_sm2_keys, verify_receipt
from netid.billing.service import billing_month
from netid.container import Container
from netid.keys.export import public_key_document
from netid.keys.schemas import KeyPurpose
from tests.billing.factories import verify_and_charge

pytestmark = pytest.mark.db

UTC = dt.UTC


def _published(container: Container) -> dict[str, Any]:
    with container.transaction(write=False) as session:
        return public_key_document(container.keyring_service(session).public_keys())


def _month_of_charges(container: Container) -> None:
    """BANK: id2 match ×3 @10, id2 mismatch ×1 @10, face match ×2 @30, id2 refused ×2 @0;
    HOTEL: id2 match ×1 @10, status valid ×1 @5; GOV: id2 match ×2 @0 (free plan)."""
    plan = [
        ("BANK", "id2", "match", 10, 3),
        ("BANK", "id2", "mismatch", 10, 1),
        ("BANK", "face", "match", 30, 2),
        ("BANK", "id2", "refused", 0, 2),
        ("HOTEL", "id2", "match", 10, 1),
        ("HOTEL", "status", "valid", 5, 1),
        ("GOV", "id2", "match", 0, 2),
    ]
    for code, type_, result, price, times in plan:
        for _ in range(times):
            verify_and_charge(
                container, code=code, type_=type_, result_class=result, price_fen=price
            )


def test_statement_totals_for_all_institutions(container: Container) -> None:
    _month_of_charges(container)
    with container.transaction(write=False) as session:
        statement = container.billing(session).statement("2026-11")
    lines = [
        (ln.institution_code, ln.verification_type, ln.result_class, ln.count, ln.amount_fen)
        for ln in statement.lines
    ]
    assert lines == [
        ("BANK", "face", "match", 2, 60),
        ("BANK", "id2", "match", 3, 30),
        ("BANK", "id2", "mismatch", 1, 10),
        ("BANK", "id2", "refused", 2, 0),
        ("GOV", "id2", "match", 2, 0),
        ("HOTEL", "id2", "match", 1, 10),
        ("HOTEL", "status", "valid", 1, 5),
    ]
    assert [
        (s.institution_code, s.count, s.amount_fen, s.amount_yuan) for s in statement.institutions
    ] == [
        ("BANK", 8, 100, "1.00"),
        ("GOV", 2, 0, "0.00"),
        ("HOTEL", 2, 15, "0.15"),
    ]
    assert (statement.totals.count, statement.totals.amount_fen) == (12, 115)
    assert statement.totals.amount_yuan == "1.15"
    assert statement.lines[0].amount_yuan == "0.60"
    assert statement.currency == "CNY" and statement.institution_code is None
    csv_lines = statement.to_csv().splitlines()
    assert csv_lines[0].startswith("month,institution_code,institution_id,verification_type")
    assert csv_lines[1] == "2026-11,BANK,inst-bank,face,match,2,60,0.60,CNY"
    assert len(csv_lines) == 8


def test_statement_for_one_institution(container: Container) -> None:
    _month_of_charges(container)
    with container.transaction(write=False) as session:
        by_id = container.billing(session).statement("2026-11", institution_id="inst-hotel")
        by_code = container.billing(session).statement("2026-11", institution_code="HOTEL")
        nobody = container.billing(session).statement("2026-11", institution_id="inst-none")
        other_month = container.billing(session).statement("2026-10")
    assert by_id == by_code
    assert by_id.institution_code == "HOTEL"
    assert [(ln.verification_type, ln.count, ln.amount_fen) for ln in by_id.lines] == [
        ("id2", 1, 10),
        ("status", 1, 5),
    ]
    assert (by_id.totals.count, by_id.totals.amount_fen, by_id.totals.amount_yuan) == (
        2,
        15,
        "0.15",
    )
    assert nobody.lines == [] and nobody.totals.count == 0 and nobody.totals.amount_yuan == "0.00"
    assert other_month.lines == []


@pytest.mark.parametrize(
    ("at", "month"),
    [
        (dt.datetime(2026, 10, 31, 15, 59, 59, tzinfo=UTC), "2026-10"),
        (dt.datetime(2026, 10, 31, 16, 0, 0, tzinfo=UTC), "2026-11"),  # 00:00 in Beijing
        (dt.datetime(2026, 10, 31, 23, 30, tzinfo=UTC), "2026-11"),
        (dt.datetime(2026, 12, 31, 16, 0, tzinfo=UTC), "2027-01"),
        (dt.datetime(2026, 11, 1, 7, 59, tzinfo=dt.timezone(dt.timedelta(hours=8))), "2026-11"),
    ],
)
def test_billing_month_is_china_time(at: dt.datetime, month: str) -> None:
    assert billing_month(at) == month


def test_month_boundary_in_statements(container: Container) -> None:
    last_second_of_october = dt.datetime(2026, 10, 31, 15, 59, 59, tzinfo=UTC)
    late_utc_evening = dt.datetime(2026, 10, 31, 23, 30, tzinfo=UTC)  # 07:30, 1 Nov in China
    verify_and_charge(container, code="BANK", at=last_second_of_october, price_fen=10)
    verify_and_charge(container, code="BANK", at=late_utc_evening, price_fen=30, type_="face")
    with container.transaction(write=False) as session:
        october = container.billing(session).statement("2026-10")
        november = container.billing(session).statement("2026-11")
    assert (october.totals.count, october.totals.amount_fen) == (1, 10)
    assert [ln.verification_type for ln in october.lines] == ["id2"]
    assert (november.totals.count, november.totals.amount_fen) == (1, 30)
    assert [ln.verification_type for ln in november.lines] == ["face"]


def test_invalid_month_and_invalid_charges(container: Container) -> None:
    with container.transaction(write=False) as session, pytest.raises(InvalidMonth):
        container.billing(session).statement("2026-13")
    good: dict[str, Any] = {
        "receipt_id": "r1",
        "institution_id": "i1",
        "institution_code": "C1",
        "verification_type": "id2",
        "purpose": "account_opening",
        "result_class": "match",
        "price_fen": 10,
        "at": dt.datetime(2026, 11, 1, tzinfo=UTC),
    }
    bad_values: list[dict[str, Any]] = [
        {"price_fen": -1},
        {"result_class": "maybe"},
        {"verification_type": "ID 2"},
        {"at": dt.datetime(2026, 11, 1)},
        {"receipt_id": ""},
        {"purpose": "x" * 65},
    ]
    for bad in bad_values:
        with container.transaction() as session, pytest.raises(InvalidCharge):
            container.billing(session).charge(**{**good, **bad})
    with container.transaction() as session:
        container.billing(session).charge(**good)
    # One charge per receipt: a second one is refused by the database, nothing written.
    with pytest.raises(IntegrityError), container.transaction() as session:
        container.billing(session).charge(**{**good, "price_fen": 99})
    with container.transaction(write=False) as session:
        statement = container.billing(session).statement("2026-11")
    assert (statement.totals.count, statement.totals.amount_fen) == (1, 10)


def test_signed_receipt_round_trip(container: Container) -> None:
    receipt = verify_and_charge(container, code="BANK", price_fen=10)
    with container.transaction(write=False) as session:
        signed = container.receipts(session).signed(receipt["id"], institution_code="BANK")
        by_operator = container.receipts(session).signed(receipt["id"], institution_code=None)
    assert signed["receipt"] == receipt  # the record's receipt plus its log index
    assert signed["receipt"]["log_index"] >= 0  # 0-based: the first entry of the log is 0
    assert signed["signature"]["alg"] == "SM2-SM3"
    assert signed["signature"]["user_id"] == "1234567812345678"
    active = container.keyring().active(KeyPurpose.SM2_SIGNING).key_id
    assert signed["signature"]["key_id"] == active
    keys = published_sm2_keys(_published(container))
    assert verify_receipt(signed, keys) == receipt
    assert verify_receipt(by_operator, keys) == receipt
    tampered = {**signed, "receipt": {**signed["receipt"], "price_fen": 0}}
    with pytest.raises(ReceiptInvalid):
        verify_receipt(tampered, keys)


def test_log_index_is_the_access_record_log_index(container: Container) -> None:
    first = verify_and_charge(container, code="BANK")
    second = verify_and_charge(container, code="BANK")
    assert second["log_index"] == first["log_index"] + 1
    with container.transaction(write=False) as session:
        signed = container.receipts(session).signed(second["id"], institution_code="BANK")
    assert signed["receipt"]["log_index"] == second["log_index"]


def test_other_institutions_and_missing_receipts_look_the_same(container: Container) -> None:
    receipt = verify_and_charge(container, code="BANK")
    with container.transaction() as session:
        other = container.recorder(session).record(
            actor="operator:x", action="keys.init", outcome="ok"
        )
    with container.transaction(write=False) as session:
        service = container.receipts(session)
        errors = []
        for receipt_id, code in [
            (receipt["id"], "HOTEL"),  # exists, another institution's
            ("0" * 32, "BANK"),  # does not exist
            (other.id, None),  # an access record that is not a receipt
            ("../etc/passwd", None),
            ("x" * 1000, "BANK"),
        ]:
            with pytest.raises(ReceiptNotFound) as info:
                service.signed(receipt_id, institution_code=code)
            errors.append(info.value.to_dict())
    assert all(e == {"code": "receipt_not_found", "message": "No such receipt."} for e in errors)


def test_receipts_signed_before_a_rotation_still_verify(container: Container) -> None:
    receipt = verify_and_charge(container, code="BANK")
    with container.transaction(write=False) as session:
        before = container.receipts(session).signed(receipt["id"], institution_code="BANK")
    with container.transaction() as session:
        container.keyring_service(session).rotate(KeyPurpose.SM2_SIGNING)
    container.keyring(reload=True)
    with container.transaction(write=False) as session:
        after = container.receipts(session).signed(receipt["id"], institution_code="BANK")
    assert after["signature"]["key_id"] != before["signature"]["key_id"]
    keys = published_sm2_keys(_published(container))
    assert verify_receipt(before, keys) == verify_receipt(after, keys) == receipt
