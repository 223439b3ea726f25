"""Queries of the citizen controls."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from netid.citizens.models import CitizenRequest, MethodLock
from netid.db.driver import DriverQuery
from netid.registry.models import GuardianLink


class LockState(NamedTuple):
    locked: bool
    unlocked_until: dt.datetime | None


_LOCK_COLUMNS = MethodLock.__table__.c
# Read on every verification that matches (the person's lock): on the driver's cursor.
_LOCK_STATE = DriverQuery(
    "SELECT locked, unlocked_until FROM method_lock WHERE person_id = ? AND method = ?",
    params=[_LOCK_COLUMNS.person_id, _LOCK_COLUMNS.method],
    returns=LockState,
    columns=[_LOCK_COLUMNS.locked, _LOCK_COLUMNS.unlocked_until],
)


class CitizenRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    # -- locks ------------------------------------------------------------------------------
    def lock(self, person_id: str, method: str) -> MethodLock | None:
        # A fresh read every time (populate_existing): a lock set by another request or node
        # counts at once, never an identity-map copy (DESIGN.md "Unit of work").
        return self._session.get(MethodLock, (person_id, method), populate_existing=True)

    def lock_state(self, person_id: str, method: str) -> LockState | None:
        """The lock as stored now, read-only (the verification path): never an identity-map
        copy."""
        return _LOCK_STATE.one_or_none(self._session.connection(), (person_id, method))

    def locks_of(self, person_id: str) -> Sequence[MethodLock]:
        return self._session.scalars(
            select(MethodLock)
            .where(MethodLock.person_id == person_id)
            .execution_options(populate_existing=True)
        ).all()

    def add_lock(self, row: MethodLock) -> MethodLock:
        """Insert a lock row, or return the one another request inserted first for the same
        (person, method): two lock requests at once must not end in a duplicate-key error.
        The primary key decides; on PostgreSQL the loser waits for the winner's commit, its
        savepoint rolls back and it reads the winner's row."""
        try:
            with self._session.begin_nested():
                self._session.add(row)
        except IntegrityError:
            found = self.lock(row.person_id, row.method)
            if found is None:  # deleted again meanwhile (deregistration): a real conflict
                raise
            return found
        return row

    def unsafe_delete_locks(self, person_id: str, methods: Sequence[str]) -> None:
        self._session.execute(
            delete(MethodLock).where(
                MethodLock.person_id == person_id, MethodLock.method.in_(list(methods))
            )
        )

    def flush(self) -> None:
        self._session.flush()

    # -- requests ---------------------------------------------------------------------------
    def by_pending_key(self, key: str) -> CitizenRequest | None:
        return self._session.scalars(
            select(CitizenRequest)
            .where(CitizenRequest.pending_key == key)
            .execution_options(populate_existing=True)
        ).first()

    def insert_pending(self, row: CitizenRequest) -> CitizenRequest:
        """Insert a pending request, or return the one another transaction inserted first
        under the same pending key (the unique index decides; the loser's savepoint rolls
        back and it reads the winner's row, committed by then)."""
        try:
            with self._session.begin_nested():
                self._session.add(row)
        except IntegrityError:
            assert row.pending_key is not None
            found = self.by_pending_key(row.pending_key)
            if found is None:  # the winner was decided meanwhile: try once more
                with self._session.begin_nested():
                    self._session.add(row)
                return row
            return found
        return row

    def group(self, group_id: str, *, lock: bool = True) -> Sequence[CitizenRequest]:
        stmt = (
            select(CitizenRequest)
            .where(CitizenRequest.group_id == group_id)
            .order_by(CitizenRequest.id)
            .execution_options(populate_existing=True)
        )
        return self._session.scalars(stmt.with_for_update() if lock else stmt).all()

    def visible_to(self, person_id: str) -> Sequence[CitizenRequest]:
        """Pending rows addressed to the person, and the consent rows about them addressed to
        their guardians (which they decide themselves once they are 14)."""
        return self._session.scalars(
            select(CitizenRequest)
            .where(
                CitizenRequest.state == "pending",
                or_(
                    CitizenRequest.addressee_id == person_id,
                    and_(CitizenRequest.person_id == person_id, CitizenRequest.kind == "consent"),
                ),
            )
            .order_by(CitizenRequest.created_at, CitizenRequest.id)
            .execution_options(populate_existing=True)
        ).all()

    def approved_uses(
        self, ward_id: str, institution_id: str, purpose: str, since: dt.datetime
    ) -> Sequence[str]:
        return self._session.scalars(
            select(CitizenRequest.id)
            .where(
                CitizenRequest.kind == "guardian_use",
                CitizenRequest.person_id == ward_id,
                CitizenRequest.institution_id == institution_id,
                CitizenRequest.purpose == purpose,
                CitizenRequest.state == "approved",
                CitizenRequest.used_at.is_(None),
                CitizenRequest.decided_at >= since,
            )
            .order_by(CitizenRequest.decided_at)
        ).all()

    def mark_used(self, request_id: str, since: dt.datetime, now: dt.datetime) -> bool:
        """Consume one approval, exactly once: a conditional UPDATE whose WHERE is re-checked
        on the locked row (PostgreSQL re-evaluates it after a concurrent writer commits;
        SQLite has one writer), so of two racing verifications only one sees rowcount 1."""
        result = self._session.execute(
            update(CitizenRequest)
            .where(
                CitizenRequest.id == request_id,
                CitizenRequest.state == "approved",
                CitizenRequest.used_at.is_(None),
                CitizenRequest.decided_at >= since,
            )
            .values(state="used", used_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def lock_requests_involving(self, person_id: str) -> None:
        """Lock every request about the person or addressed to them (any state), so a decision
        being taken on one of them right now finishes first (its consent then exists when
        deregistration deletes the consents) or waits and finds the request gone."""
        self._session.execute(
            select(CitizenRequest.id)
            .where(
                or_(
                    CitizenRequest.person_id == person_id,
                    CitizenRequest.addressee_id == person_id,
                )
            )
            .with_for_update()
        ).all()

    def unsafe_delete_requests_of(self, person_id: str) -> int:
        """Delete every request about the person, and the pending ones addressed to them as a
        guardian (decided ones stay: they are the ward's); returns how many."""
        result = self._session.execute(
            delete(CitizenRequest).where(
                or_(
                    CitizenRequest.person_id == person_id,
                    and_(
                        CitizenRequest.addressee_id == person_id,
                        CitizenRequest.state == "pending",
                    ),
                )
            )
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    # -- guardian links (netid.registry's table, read only) ---------------------------------
    def is_guardian(self, guardian_id: str, ward_id: str) -> bool:
        return (
            self._session.scalar(
                select(GuardianLink.id).where(
                    GuardianLink.ward_id == ward_id, GuardianLink.guardian_id == guardian_id
                )
            )
            is not None
        )
