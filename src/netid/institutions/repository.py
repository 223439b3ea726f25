"""Institution queries. The quota statements are written for exactness under concurrency."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Integer, String, bindparam, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from netid.db.driver import DriverQuery, DriverWrite
from netid.institutions.models import (
    Institution,
    InstitutionQuota,
    InstitutionStatusChange,
    QuotaUsage,
)

_INSTITUTION = Institution.__table__.c


class InstitutionRow(NamedTuple):
    """The fields of an InstitutionView, as stored now."""

    id: str
    code: str | None
    client_id: str | None
    name: str
    uscc: str
    industry: str
    purposes: list[str]
    location: str
    status: str
    price_plan: str | None
    sector: str | None
    agreement_version: str


# Read on every verification (no cache may delay a freeze): on the driver's cursor.
_STATUS = DriverQuery(
    f"SELECT {', '.join(InstitutionRow._fields)} FROM institution WHERE id = ?",  # noqa: S608
    params=[_INSTITUTION.id],
    returns=InstitutionRow,
    columns=[_INSTITUTION[name] for name in InstitutionRow._fields],
)


class ClientKeysRow(NamedTuple):
    """The institution holding an OAuth client, and the client's registered public JWKs."""

    institution_id: str
    public_jwks: list[dict[str, Any]]


# Read on every token request (the assertion's keys): on the driver's cursor; through the ORM
# this was a quarter of a client-credentials grant.
_CLIENT_KEYS = DriverQuery(
    "SELECT id, public_jwks FROM institution WHERE client_id = ?",
    params=[_INSTITUTION.client_id],
    returns=ClientKeysRow,
    columns=[_INSTITUTION.id, _INSTITUTION.public_jwks],
)

# The quota statements of try_consume, built once for the hot path (bound as q_*: SQLAlchemy
# reserves a column's own name for the SET / VALUES clause).
_QUOTA = InstitutionQuota.__table__.c
_USAGE = QuotaUsage.__table__.c
_DRIVER_SPEND = DriverWrite(
    "UPDATE quota_usage SET used = used + ?"
    " WHERE institution_id = ? AND verification_type = ? AND month = ? AND used + ? <="
    " (SELECT monthly_limit FROM institution_quota"
    " WHERE institution_id = ? AND verification_type = ?)",
    params=[
        _USAGE.used,
        _USAGE.institution_id,
        _USAGE.verification_type,
        _USAGE.month,
        _USAGE.used,
        _QUOTA.institution_id,
        _QUOTA.verification_type,
    ],
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

    def status_of(self, institution_id: str) -> InstitutionRow | None:
        """The view's fields, read now: never an identity-map copy (a grouped commit runs
        many requests in one session)."""
        return _STATUS.one_or_none(self.session.connection(), (institution_id,))

    def client_keys(self, client_id: str) -> ClientKeysRow | None:
        return _CLIENT_KEYS.one_or_none(self.session.connection(), (client_id,))

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
        spend = (n, institution_id, verification_type, month, n, institution_id, verification_type)
        if _DRIVER_SPEND.rowcount(conn, spend):
            return True
        # Retry the UPDATE even when another request created the row first: its creator may
        # not have spent anything yet (both saw no row at the start of a month).
        conn.execute(_NEW_MONTH[conn.dialect.name], params)
        return bool(_DRIVER_SPEND.rowcount(conn, spend))
