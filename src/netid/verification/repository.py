"""Queries of netid.verification: the QR nonce table."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from netid.verification.models import QrNonce


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

    def purge_nonces(self, before: dt.datetime) -> int:
        result = self._session.execute(delete(QrNonce).where(QrNonce.expires_at < before))
        return int(getattr(result, "rowcount", 0) or 0)
