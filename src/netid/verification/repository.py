"""Queries of netid.verification: the QR nonce table.

Both run on every QR redemption, so on the driver's cursor (netid.db.driver): through the
ORM they cost about a fifth of a redemption (the bulk delete's compilation, the flush and its
savepoint)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from netid.db.driver import DriverWrite
from netid.verification.models import QrNonce

# Expired nonces removed per redemption: more than one redemption adds, so the table stays
# bounded by the last ~90 s of scans.
PURGE_BATCH = 8

_NONCE = QrNonce.__table__.c
# ON CONFLICT DO NOTHING: a nonce already there changes no row, without an error that would
# spoil the caller's transaction (which goes on to record the refusal); on PostgreSQL a
# concurrent insert of the same nonce waits for the first transaction, then changes none.
_INSERT = DriverWrite(
    "INSERT INTO qr_nonce (nonce, expires_at) VALUES (?, ?) ON CONFLICT (nonce) DO NOTHING",
    params=[_NONCE.nonce, _NONCE.expires_at],
)
_PURGE_SQL = (
    "DELETE FROM qr_nonce WHERE nonce IN"
    " (SELECT nonce FROM qr_nonce WHERE expires_at < ? LIMIT ?{lock})"
)
_PURGE = {
    "sqlite": DriverWrite(_PURGE_SQL.format(lock=""), params=[_NONCE.expires_at, None]),
    # Two redemptions purging at once never wait for each other (they would otherwise queue
    # on the same expired rows).
    "postgresql": DriverWrite(
        _PURGE_SQL.format(lock=" FOR UPDATE SKIP LOCKED"), params=[_NONCE.expires_at, None]
    ),
}


class VerificationRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def insert_nonce(self, nonce: bytes, expires_at: dt.datetime) -> bool:
        """Insert the nonce: True if it was new, False if it was there already."""
        return _INSERT.rowcount(self._session.connection(), (nonce, expires_at)) == 1

    def purge_nonces(self, before: dt.datetime, *, limit: int = PURGE_BATCH) -> int:
        """Delete up to ``limit`` nonces that expired before ``before`` (on PostgreSQL the
        rows are chosen ``FOR UPDATE SKIP LOCKED``)."""
        conn = self._session.connection()
        return _PURGE[conn.dialect.name].rowcount(conn, (before, limit))
