"""Driver statements (netid.db.driver) store and read values exactly as the ORM does, on both
backends: what one writes the other reads back equal (time zones, booleans, JSON, bytes)."""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from netid.billing.models import Charge
from netid.container import Container
from netid.db.driver import DriverQuery, DriverWrite
from netid.institutions.models import Institution
from tests.db.support import AT, charge

_CHARGE = Charge.__table__.c
_INSTITUTION = Institution.__table__.c


class ChargeRow(NamedTuple):
    receipt_id: str
    price_fen: int
    charged_at: dt.datetime


INSERT = DriverWrite(
    "INSERT INTO charge (receipt_id, institution_id, institution_code, month,"
    " verification_type, purpose, result_class, price_fen, charged_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    params=[
        _CHARGE.receipt_id,
        _CHARGE.institution_id,
        _CHARGE.institution_code,
        _CHARGE.month,
        _CHARGE.verification_type,
        _CHARGE.purpose,
        _CHARGE.result_class,
        _CHARGE.price_fen,
        _CHARGE.charged_at,
    ],
)
READ = DriverQuery(
    "SELECT receipt_id, price_fen, charged_at FROM charge WHERE receipt_id = ?",
    params=[_CHARGE.receipt_id],
    returns=ChargeRow,
    columns=[_CHARGE.receipt_id, _CHARGE.price_fen, _CHARGE.charged_at],
)


def _values(receipt_id: str, price: int) -> tuple[object, ...]:
    return (receipt_id, "inst", "CODE", "2026-12", "id2", "account_opening", "match", price, AT)


def test_a_driver_write_reads_back_through_the_orm(container: Container) -> None:
    with container.transaction() as session:
        assert INSERT.rowcount(session.connection(), _values("r1", 150)) == 1
    with container.transaction(write=False) as session:
        charge = session.get(Charge, "r1")
        assert charge is not None
        assert (charge.price_fen, charge.charged_at) == (150, AT)
        assert charge.charged_at.tzinfo is not None


def test_an_orm_write_reads_back_through_the_driver(container: Container) -> None:
    with container.transaction() as session:
        session.add(charge("r2", price_fen=7))
    with container.transaction(write=False) as session:
        row = READ.one_or_none(session.connection(), ("r2",))
        assert row == ChargeRow("r2", 7, AT)
        assert READ.one_or_none(session.connection(), ("missing",)) is None


def test_many_and_all(container: Container) -> None:
    with container.transaction() as session:
        INSERT.many(session.connection(), [_values(f"m{i}", i) for i in range(3)])
        INSERT.many(session.connection(), [])  # nothing to insert: no statement
    query = DriverQuery(
        "SELECT receipt_id, price_fen, charged_at FROM charge ORDER BY receipt_id",
        returns=ChargeRow,
        columns=[_CHARGE.receipt_id, _CHARGE.price_fen, _CHARGE.charged_at],
    )
    with container.transaction(write=False) as session:
        rows = query.all(session.connection())
        assert [r.price_fen for r in rows] == [0, 1, 2]
        assert query.first(session.connection()) == rows[0]
        assert len(query.all(session.connection(), limit=2)) == 2
        with pytest.raises(LookupError):
            query.one_or_none(session.connection())


def test_a_driver_write_in_a_rolled_back_transaction_is_gone(container: Container) -> None:
    def write_then_fail() -> None:
        with container.transaction() as session:
            INSERT.rowcount(session.connection(), _values("gone", 1))
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        write_then_fail()
    with container.transaction(write=False) as session:
        assert session.scalar(select(Charge.receipt_id)) is None


def test_json_and_boolean_columns_are_converted(container: Container) -> None:
    class Row(NamedTuple):
        purposes: list[str]

    query = DriverQuery(
        "SELECT purposes FROM institution WHERE id = ?",
        params=[_INSTITUTION.id],
        returns=Row,
        columns=[_INSTITUTION.purposes],
    )
    now = dt.datetime.now(dt.UTC)
    with container.transaction() as session:
        session.add(
            Institution(
                id="i1",
                status="pending",
                name="银行",
                uscc="91110000000000000X",
                industry="banking_finance",
                purposes=["account_opening", "付款"],
                location="domestic",
                agreement_version="2026-01",
                application_sealed=b"x",
                public_jwks=[],
                created_at=now,
                updated_at=now,
            )
        )
    with container.transaction(write=False) as session:
        assert query.one_or_none(session.connection(), ("i1",)) == Row(["account_opening", "付款"])


def test_statements_are_checked_when_built() -> None:
    with pytest.raises(ValueError, match="placeholder"):
        DriverWrite("UPDATE charge SET price_fen = ? WHERE receipt_id = ?", params=[None])
    with pytest.raises(ValueError, match="'%'"):
        DriverWrite("SELECT 1 WHERE 'a' LIKE '%'")
    with pytest.raises(ValueError, match="field"):
        DriverQuery("SELECT 1", returns=ChargeRow, columns=[_CHARGE.receipt_id])


def test_values_must_match_the_placeholders(container: Container) -> None:
    with (
        pytest.raises(ValueError, match="one value per placeholder"),
        container.transaction(write=False) as session,
    ):
        READ.one_or_none(session.connection(), ())


def test_driver_errors_are_sqlalchemy_errors_without_the_values(container: Container) -> None:
    # The edge's error table and every caller know SQLAlchemy's exceptions, not the drivers'.
    with container.transaction() as session:
        INSERT.rowcount(session.connection(), _values("dup", 1))

    def insert_again() -> None:
        with container.transaction() as session:
            INSERT.rowcount(session.connection(), _values("dup", 2))

    with pytest.raises(IntegrityError) as caught:
        insert_again()
    assert "account_opening" not in str(caught.value)  # parameters hidden
