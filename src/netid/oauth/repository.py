from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from netid.core.ids import new_row_id
from netid.db.driver import DriverWrite
from netid.oauth.models import UsedAssertion

_USED = UsedAssertion.__table__.c

# Both run on every client_credentials grant, so on the driver's cursor (netid.db.driver).
# ``INSERT … ON CONFLICT DO NOTHING`` on both backends: concurrent claims of one jti serialise
# on the unique index and exactly one inserts; the others change no row, without an error that
# would spoil their transaction (so the refusal can be recorded). The driver's rowcount is the
# number of rows inserted (sqlite3: changes(); psycopg: the command tag).
_CLAIM = DriverWrite(
    "INSERT INTO used_assertion (id, client_id, jti_hash, used_at, expires_at)"
    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (client_id, jti_hash) DO NOTHING",
    params=[_USED.id, _USED.client_id, _USED.jti_hash, _USED.used_at, _USED.expires_at],
)
# Every client's expired jtis, a bounded batch per grant (a backlog, say after an outage, is
# worked off over the next grants instead of inside one writer slot), on the expires_at index.
# Filtering on the client as well let SQLite walk the (client_id, jti_hash) unique index
# instead: every jti the client ever sent, on every grant (half of a token request's time at
# 100,000 grants).
PURGE_BATCH = 8
PURGE_EXPIRED_SQL = (
    "DELETE FROM used_assertion WHERE id IN"
    " (SELECT id FROM used_assertion WHERE expires_at < ? LIMIT ?)"
)
_PURGE = DriverWrite(PURGE_EXPIRED_SQL, params=[_USED.expires_at, None])


class OAuthRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def claim_jti(
        self, *, client_id: str, jti_hash: bytes, used_at: dt.datetime, expires_at: dt.datetime
    ) -> bool:
        """Record a jti as used; False if it was used before (or is being used right now)."""
        values = (new_row_id(), client_id, jti_hash, used_at, expires_at)
        return _CLAIM.rowcount(self._session.connection(), values) == 1

    def purge_expired(self, *, before: dt.datetime) -> None:
        """Forget up to PURGE_BATCH jtis (of any client) whose assertions are past acceptance:
        they fail the ``exp`` check on their own, so remembering them stops nothing."""
        _PURGE.rowcount(self._session.connection(), (before, PURGE_BATCH))
