"""Queries of netid.verification: the QR nonce table."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from netid.verification.models import QrNonce

# Expired nonces removed per redemption: more than one redemption adds, so the table stays
# bounded by the last ~90 s of scans.
PURGE_BATCH = 8


class VerificationRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def insert_nonce(self, nonce: bytes, expires_at: dt.datetime) -> bool:
        """Insert the nonce in a savepoint: True if it was new, False if it was there already
        (the savepoint rolls back alone, so the caller's transaction goes on to record the
        refusal)."""
        try:
            with self._session.begin_nested():
                self._session.add(QrNonce(nonce=nonce, expires_at=expires_at))
                self._session.flush()
        except IntegrityError:
            return False
        return True

    def purge_nonces(self, before: dt.datetime, *, limit: int = PURGE_BATCH) -> int:
        """Delete up to ``limit`` nonces that expired before ``before``. On PostgreSQL the rows
        are chosen ``FOR UPDATE SKIP LOCKED``: two verifications purging at once never wait
        for each other (they would otherwise queue on the same expired rows)."""
        chosen = select(QrNonce.nonce).where(QrNonce.expires_at < before).limit(limit)
        if self._session.get_bind().dialect.name == "postgresql":
            chosen = chosen.with_for_update(skip_locked=True)
        result = self._session.execute(
            delete(QrNonce).where(QrNonce.nonce.in_(chosen.scalar_subquery()))
        )
        return int(getattr(result, "rowcount", 0) or 0)
