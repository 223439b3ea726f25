from __future__ import annotations

import datetime as dt
from typing import cast

from sqlalchemy import Table, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from netid.core.ids import new_row_id
from netid.oauth.models import UsedAssertion

_USED_ASSERTION = cast(Table, UsedAssertion.__table__)


class OAuthRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def claim_jti(
        self, *, client_id: str, jti_hash: bytes, used_at: dt.datetime, expires_at: dt.datetime
    ) -> bool:
        """Record a jti as used; False if it was used before (or is being used right now).

        ``INSERT … ON CONFLICT DO NOTHING`` on both backends: concurrent claims of one jti
        serialise on the unique index and exactly one inserts; the others get no row back,
        without an error that would spoil their transaction (so the refusal can be recorded)."""
        dialect = self._session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        # The Core table and RETURNING, not rowcount: an ORM-enabled INSERT may run as a bulk
        # "insertmanyvalues" statement whose rowcount is not the number of rows inserted.
        statement = (
            insert(_USED_ASSERTION)
            .values(
                id=new_row_id(),
                client_id=client_id,
                jti_hash=jti_hash,
                used_at=used_at,
                expires_at=expires_at,
            )
            .on_conflict_do_nothing(index_elements=["client_id", "jti_hash"])
            .returning(UsedAssertion.id)
        )
        return self._session.execute(statement).first() is not None

    def purge_expired(self, *, client_id: str, before: dt.datetime) -> None:
        """Forget jtis whose assertions are past acceptance (they fail the ``exp`` check)."""
        self._session.execute(
            delete(UsedAssertion).where(
                UsedAssertion.client_id == client_id, UsedAssertion.expires_at < before
            )
        )
