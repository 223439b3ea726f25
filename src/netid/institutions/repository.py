"""Institution queries. The quota statements are written for exactness under concurrency."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Integer, Row, String, and_, bindparam, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from netid.institutions.models import (
    Institution,
    InstitutionQuota,
    InstitutionStatusChange,
    QuotaUsage,
)

_INSTITUTION = Institution.__table__.c
# The fields of an InstitutionView, by primary key: a Core statement built once, as every
# verification reads the caller's status afresh (no cache may delay a freeze).
_STATUS = select(
    _INSTITUTION.id,
    _INSTITUTION.code,
    _INSTITUTION.client_id,
    _INSTITUTION.name,
    _INSTITUTION.uscc,
    _INSTITUTION.industry,
    _INSTITUTION.purposes,
    _INSTITUTION.location,
    _INSTITUTION.status,
    _INSTITUTION.price_plan,
    _INSTITUTION.sector,
    _INSTITUTION.agreement_version,
).where(_INSTITUTION.id == bindparam("institution_id"))

# The quota statements of try_consume, built once for the hot path (bound as q_*: SQLAlchemy
# reserves a column's own name for the SET / VALUES clause).
_QUOTA = InstitutionQuota.__table__.c
_USAGE = QuotaUsage.__table__.c
_LIMIT = (
    select(_QUOTA.monthly_limit)
    .where(
        _QUOTA.institution_id == bindparam("q_institution_id"),
        _QUOTA.verification_type == bindparam("q_verification_type"),
    )
    .scalar_subquery()
)
_SPEND = (
    update(QuotaUsage)
    .where(
        and_(
            _USAGE.institution_id == bindparam("q_institution_id"),
            _USAGE.verification_type == bindparam("q_verification_type"),
            _USAGE.month == bindparam("q_month"),
            _USAGE.used + bindparam("q_n") <= _LIMIT,
        )
    )
    .values(used=_USAGE.used + bindparam("q_n"))
)
_NEW_MONTH_SOURCE = select(
    _QUOTA.institution_id,
    _QUOTA.verification_type,
    bindparam("q_month", type_=String(7)),
    literal(0, Integer),
).where(
    _QUOTA.institution_id == bindparam("q_institution_id"),
    _QUOTA.verification_type == bindparam("q_verification_type"),
)
_NEW_MONTH = {
    name: dialect.insert(QuotaUsage.__table__)
    .from_select(["institution_id", "verification_type", "month", "used"], _NEW_MONTH_SOURCE)
    .on_conflict_do_nothing()
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


class InstitutionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: Institution | InstitutionStatusChange) -> None:
        self.session.add(row)
        self.session.flush()

    def get(self, institution_id: str, *, for_update: bool = False) -> Institution | None:
        query = select(Institution).where(Institution.id == institution_id)
        if for_update:
            # PostgreSQL: two administrators changing one institution serialise here. SQLite
            # ignores it; its write transactions are already serial (BEGIN IMMEDIATE).
            query = query.with_for_update()
        return self.session.scalars(query).one_or_none()

    def status_of(self, institution_id: str) -> Row[*tuple[Any, ...]] | None:
        """The view's fields, read now: one primary-key Core select, never an identity-map
        copy (a grouped commit runs many requests in one session)."""
        return (
            self.session.connection()
            .execute(_STATUS, {"institution_id": institution_id})
            .one_or_none()
        )

    def by_code(self, code: str) -> Institution | None:
        return self.session.scalars(select(Institution).where(Institution.code == code)).first()

    def by_client_id(self, client_id: str) -> Institution | None:
        return self.session.scalars(
            select(Institution).where(Institution.client_id == client_id)
        ).first()

    def code_taken(self, code: str) -> bool:
        return (
            self.session.scalar(select(Institution.id).where(Institution.code == code)) is not None
        )

    def list(self, status: str | None = None) -> Sequence[Institution]:
        query = select(Institution).order_by(Institution.created_at, Institution.id)
        if status is not None:
            query = query.where(Institution.status == status)
        return self.session.scalars(query).all()

    def history(self, institution_id: str) -> Sequence[InstitutionStatusChange]:
        return self.session.scalars(
            select(InstitutionStatusChange)
            .where(InstitutionStatusChange.institution_id == institution_id)
            .order_by(InstitutionStatusChange.at, InstitutionStatusChange.id)
        ).all()

    # -- quotas ----------------------------------------------------------------------------------
    def set_quotas(self, institution_id: str, quotas: Mapping[str, int]) -> None:
        existing = {
            q.verification_type: q
            for q in self.session.scalars(
                select(InstitutionQuota).where(InstitutionQuota.institution_id == institution_id)
            )
        }
        for verification_type, limit in quotas.items():
            row = existing.get(verification_type)
            if row is None:
                self.session.add(
                    InstitutionQuota(
                        institution_id=institution_id,
                        verification_type=verification_type,
                        monthly_limit=limit,
                    )
                )
            else:
                row.monthly_limit = limit
        self.session.flush()

    def sealed_applications(self) -> Sequence[tuple[str, bytes]]:
        """(id, sealed application) of every institution: few rows, read whole."""
        rows = self.session.execute(
            select(Institution.id, Institution.application_sealed).order_by(Institution.id)
        )
        return [(str(i), bytes(b)) for i, b in rows]

    def set_application_sealed(self, institution_id: str, sealed: bytes) -> None:
        self.session.execute(
            update(Institution)
            .where(Institution.id == institution_id)
            .values(application_sealed=sealed)
        )

    def quotas(self, institution_id: str) -> Sequence[InstitutionQuota]:
        return self.session.scalars(
            select(InstitutionQuota)
            .where(InstitutionQuota.institution_id == institution_id)
            .order_by(InstitutionQuota.verification_type)
        ).all()

    def usage(self, institution_id: str, month: str) -> dict[str, int]:
        rows = self.session.execute(
            select(QuotaUsage.verification_type, QuotaUsage.used).where(
                QuotaUsage.institution_id == institution_id, QuotaUsage.month == month
            )
        )
        return {str(t): int(n) for t, n in rows}

    def try_consume(self, institution_id: str, verification_type: str, month: str, n: int) -> bool:
        """Add ``n`` to this month's usage if it stays within the limit; False otherwise.

        Exact under concurrency on both backends: one conditional UPDATE adds ``n`` only while
        ``used + n <= monthly_limit``; if it matched nothing, the month's usage row is created
        (if the institution has a quota of that type) with INSERT … ON CONFLICT DO NOTHING and
        the UPDATE runs again. On PostgreSQL a concurrent
        UPDATE of the same row waits for the other's commit and re-checks its WHERE clause on
        the new row version (READ COMMITTED, "EvalPlanQual"), so no two requests spend the
        same unit; SQLite write transactions are serial. No quota row: nothing is inserted,
        the UPDATE's limit is NULL, nothing matches — fail closed.
        """
        conn = self.session.connection()
        params = {
            "q_institution_id": institution_id,
            "q_verification_type": verification_type,
            "q_month": month,
            "q_n": n,
        }
        # Hot path: this month's row exists, one statement. Otherwise create it and try again.
        if conn.execute(_SPEND, params).rowcount:
            return True
        # Retry the UPDATE even when another request created the row first: its creator may
        # not have spent anything yet (both saw no row at the start of a month).
        conn.execute(_NEW_MONTH[conn.dialect.name], params)
        return bool(conn.execute(_SPEND, params).rowcount)
