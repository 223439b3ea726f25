"""Queries for charges and the access records that hold receipts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from netid.audit.models import AccessRecord
from netid.billing.models import Charge
from netid.billing.schemas import ChargeRow
from netid.db.driver import DriverWrite


@dataclass(frozen=True, slots=True)
class LineRow:
    institution_id: str
    institution_code: str
    verification_type: str
    result_class: str
    count: int
    amount_fen: int


# One charge per access on the hot path: a Core insert built once, not an ORM unit of work.
_CHARGE_COLUMNS = tuple(column.key for column in Charge.__table__.columns)
_INSERT_CHARGE = DriverWrite(
    f"INSERT INTO charge ({', '.join(_CHARGE_COLUMNS)})"  # noqa: S608 - constant names
    f" VALUES ({', '.join('?' for _ in _CHARGE_COLUMNS)})",
    params=[Charge.__table__.c[name] for name in _CHARGE_COLUMNS],
)


class BillingRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, charge: ChargeRow) -> None:
        """Insert ``charge``."""
        values = tuple(getattr(charge, name) for name in _CHARGE_COLUMNS)
        _INSERT_CHARGE.rowcount(self._session.connection(), values)

    def get(self, receipt_id: str) -> Charge | None:
        return self._session.get(Charge, receipt_id)

    def lines(
        self,
        month: str,
        *,
        institution_id: str | None = None,
        institution_code: str | None = None,
    ) -> Sequence[LineRow]:
        count = func.count().label("count")
        amount = func.coalesce(func.sum(Charge.price_fen), 0).label("amount_fen")
        query = select(
            Charge.institution_id,
            Charge.institution_code,
            Charge.verification_type,
            Charge.result_class,
            count,
            amount,
        ).where(Charge.month == month)
        if institution_id is not None:
            query = query.where(Charge.institution_id == institution_id)
        if institution_code is not None:
            query = query.where(Charge.institution_code == institution_code)
        query = query.group_by(
            Charge.institution_id,
            Charge.institution_code,
            Charge.verification_type,
            Charge.result_class,
        ).order_by(
            Charge.institution_code,
            Charge.institution_id,
            Charge.verification_type,
            Charge.result_class,
        )
        return [
            LineRow(*(row[:4]), int(row[4]), int(row[5])) for row in self._session.execute(query)
        ]

    def access_record(self, record_id: str) -> AccessRecord | None:
        return self._session.execute(
            select(AccessRecord).where(AccessRecord.id == record_id)
        ).scalar_one_or_none()
