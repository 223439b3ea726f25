"""Administrator queries, and the administrators' access records for the audit administrator."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from netid.admins.models import AdminAccount
from netid.audit.models import AccessRecord


class AdminRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: AdminAccount) -> None:
        self.session.add(row)
        self.session.flush()

    def flush(self) -> None:
        self.session.flush()

    def by_username(self, username: str, *, for_update: bool = False) -> AdminAccount | None:
        query = select(AdminAccount).where(AdminAccount.username == username)
        if for_update:
            # PostgreSQL: concurrent logins to one account serialise here, so one TOTP code
            # cannot be accepted twice and no failure is lost. SQLite ignores it; its write
            # transactions are serial already (BEGIN IMMEDIATE).
            query = query.with_for_update()
        return self.session.scalars(query).one_or_none()

    def by_id(self, account_id: str) -> AdminAccount | None:
        return self.session.get(AdminAccount, account_id, populate_existing=True)

    def all(self) -> Sequence[AdminAccount]:
        return self.session.scalars(
            select(AdminAccount).order_by(AdminAccount.created_at, AdminAccount.id)
        ).all()

    def admin_records(self, *, after: int, limit: int) -> Sequence[AccessRecord]:
        """Access records of administrators and operators (and admin logins), oldest first."""
        return self.session.scalars(
            select(AccessRecord)
            .where(
                AccessRecord.seq > after,
                or_(
                    AccessRecord.actor.startswith("admin:", autoescape=True),
                    AccessRecord.actor.startswith("operator:", autoescape=True),
                    AccessRecord.action.startswith("admin.", autoescape=True),
                ),
            )
            .order_by(AccessRecord.seq)
            .limit(limit)
        ).all()
