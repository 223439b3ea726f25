"""Institution queries. The quota statements are written for exactness under concurrency."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import Integer, String, and_, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from netid.institutions.models import (
    Institution,
    InstitutionQuota,
    InstitutionStatusChange,
    QuotaUsage,
)


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

    def status_of(self, institution_id: str) -> Institution | None:
        # One primary-key select, no identity-map reuse across requests (one session each).
        return self.session.get(Institution, institution_id, populate_existing=True)

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
        limit = (
            select(InstitutionQuota.monthly_limit)
            .where(
                InstitutionQuota.institution_id == institution_id,
                InstitutionQuota.verification_type == verification_type,
            )
            .scalar_subquery()
        )
        source = select(
            InstitutionQuota.institution_id,
            InstitutionQuota.verification_type,
            literal(month, String(7)),
            literal(0, Integer),
        ).where(
            InstitutionQuota.institution_id == institution_id,
            InstitutionQuota.verification_type == verification_type,
        )
        spend = (
            update(QuotaUsage)
            .where(
                and_(
                    QuotaUsage.institution_id == institution_id,
                    QuotaUsage.verification_type == verification_type,
                    QuotaUsage.month == month,
                    QuotaUsage.used + n <= limit,
                )
            )
            .values(used=QuotaUsage.used + n)
            .execution_options(synchronize_session=False)
        )
        # Hot path: this month's row exists, one statement. Otherwise create it and try again.
        if self.session.execute(spend).rowcount:  # type: ignore[attr-defined]
            return True
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        columns = ["institution_id", "verification_type", "month", "used"]
        # Retry the UPDATE even when another request created the row first: its creator may
        # not have spent anything yet (both saw no row at the start of a month).
        self.session.execute(
            insert(QuotaUsage).from_select(columns, source).on_conflict_do_nothing()
        )
        return bool(self.session.execute(spend).rowcount)  # type: ignore[attr-defined]
