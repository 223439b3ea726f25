"""Queries of netid.accounts (flush, never commit)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import Session

from netid.accounts.models import AccountCode, PasswordAccount

# A sealed value starts with one version byte, then the 8 ASCII characters of the key id
# (netid.crypto.sealing): the key that seals a cell is readable in SQL without opening it.
_KEY_ID_AT, _KEY_ID_LENGTH = 2, 8


class AccountRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, obj: object) -> None:
        self._session.add(obj)
        self._session.flush()

    def flush(self) -> None:
        self._session.flush()

    # -- accounts -----------------------------------------------------------------------------
    def account(self, person_id: str, *, for_update: bool = False) -> PasswordAccount | None:
        """The person's account; ``for_update`` locks the row (PostgreSQL), so that two
        concurrent wrong passwords both count."""
        stmt = select(PasswordAccount).where(PasswordAccount.person_id == person_id)
        if for_update:
            stmt = stmt.with_for_update()
        return self._session.scalars(stmt).one_or_none()

    def delete_account(self, person_id: str) -> int:
        codes = self._session.execute(delete(AccountCode).where(AccountCode.person_id == person_id))
        accounts = self._session.execute(
            delete(PasswordAccount).where(PasswordAccount.person_id == person_id)
        )
        return int(getattr(accounts, "rowcount", 0) or 0) + int(getattr(codes, "rowcount", 0) or 0)

    # -- codes --------------------------------------------------------------------------------
    def code_by_secret(self, secret_hash: bytes, purpose: str) -> AccountCode | None:
        stmt = (
            select(AccountCode)
            .where(AccountCode.secret_hash == secret_hash, AccountCode.purpose == purpose)
            .with_for_update()
        )
        return self._session.scalars(stmt).one_or_none()

    def codes_sent_since(self, person_id: str, since: dt.datetime) -> Sequence[dt.datetime]:
        """When codes were sent to this person after ``since`` (oldest first)."""
        stmt = (
            select(AccountCode.created_at)
            .where(
                AccountCode.person_id == person_id,
                AccountCode.sent.is_(True),
                AccountCode.created_at > since,
            )
            .order_by(AccountCode.created_at)
        )
        return self._session.scalars(stmt).all()

    def delete_live_logins(self, person_id: str) -> None:
        """A new password ends the login challenges opened with the old one."""
        self._session.execute(
            delete(AccountCode).where(
                AccountCode.person_id == person_id,
                AccountCode.purpose == "login",
                AccountCode.used_at.is_(None),
            )
        )

    def purge(self, before: dt.datetime, limit: int) -> int:
        """Delete up to ``limit`` rows created before ``before``. Rows another transaction is
        purging are skipped (PostgreSQL SKIP LOCKED), so concurrent purges never wait on
        each other; ids in order, so locks are taken in one order."""
        ids = self._session.scalars(
            select(AccountCode.id)
            .where(AccountCode.created_at < before)
            .order_by(AccountCode.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        if not ids:
            return 0
        self._session.execute(delete(AccountCode).where(AccountCode.id.in_(ids)))
        return len(ids)

    def references_to_key(self, key_id: str, now: dt.datetime) -> int:
        """Live codes (neither used nor expired) MACed with ``key_id`` or whose document
        number it seals: a code cannot be re-MACed, so it holds its key for ≤ 5 minutes."""
        sealed_by = and_(
            func.length(AccountCode.number_sealed) > 0,
            func.substr(AccountCode.number_sealed, _KEY_ID_AT, _KEY_ID_LENGTH)
            == key_id.encode("ascii"),
        )
        stmt = (
            select(func.count())
            .select_from(AccountCode)
            .where(
                AccountCode.used_at.is_(None),
                AccountCode.expires_at >= now,
                or_(AccountCode.mac_key_id == key_id, sealed_by),
            )
        )
        return int(self._session.scalar(stmt) or 0)
