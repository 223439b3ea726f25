"""Queries of the OpenID Connect tables. Single-use steps are conditional UPDATEs, so two
concurrent requests cannot both win (a code exchanged twice, a login approved twice)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from netid.oidc.models import OidcAuthorization, OidcClient, OidcGrant, OidcSession


class OidcRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def flush(self) -> None:
        self._session.flush()

    # -- clients ----------------------------------------------------------------------------
    def client(self, client_id: str) -> OidcClient | None:
        return self._session.get(OidcClient, client_id)

    def client_of_institution(self, institution_id: str) -> OidcClient | None:
        return self._session.scalars(
            select(OidcClient).where(OidcClient.institution_id == institution_id)
        ).first()

    def add(self, row: OidcClient | OidcAuthorization | OidcGrant | OidcSession) -> None:
        self._session.add(row)
        self._session.flush()

    # -- authorization transactions ---------------------------------------------------------
    def authorization(self, authorization_id: str) -> OidcAuthorization | None:
        return self._session.get(OidcAuthorization, authorization_id)

    def authorization_by_handle(self, handle_hash: bytes) -> OidcAuthorization | None:
        return self._session.scalars(
            select(OidcAuthorization).where(OidcAuthorization.handle_hash == handle_hash)
        ).first()

    def move(
        self,
        authorization_id: str,
        *,
        from_status: str,
        to_status: str,
        values: dict[str, object] | None = None,
    ) -> bool:
        """Move a transaction on if it is still in ``from_status`` (once only)."""
        result = self._session.execute(
            update(OidcAuthorization)
            .where(
                OidcAuthorization.id == authorization_id,
                OidcAuthorization.status == from_status,
            )
            .values(status=to_status, **(values or {}))
            .execution_options(synchronize_session="fetch")
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def purge_authorizations(self, before: dt.datetime) -> None:
        self._session.execute(
            delete(OidcAuthorization).where(OidcAuthorization.expires_at < before)
        )

    # -- grants -----------------------------------------------------------------------------
    def grant_by_code(self, code_hash: bytes) -> OidcGrant | None:
        return self._session.scalars(
            select(OidcGrant).where(OidcGrant.code_hash == code_hash)
        ).first()

    def grant(self, grant_id: str) -> OidcGrant | None:
        return self._session.get(OidcGrant, grant_id)

    def spend_code(self, grant_id: str, *, now: dt.datetime, expires_at: dt.datetime) -> bool:
        """Mark the code used, once: the first exchange wins."""
        result = self._session.execute(
            update(OidcGrant)
            .where(OidcGrant.id == grant_id, OidcGrant.used_at.is_(None))
            .values(used_at=now, expires_at=expires_at)
            .execution_options(synchronize_session="fetch")
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def revoke_grant(self, grant_id: str, now: dt.datetime) -> None:
        self._session.execute(
            update(OidcGrant)
            .where(OidcGrant.id == grant_id, OidcGrant.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session="fetch")
        )

    def purge_grants(self, before: dt.datetime) -> None:
        """Grants whose code and tokens are all dead (their sealed claims go with them)."""
        self._session.execute(
            delete(OidcGrant).where(
                (OidcGrant.expires_at < before)
                | (OidcGrant.used_at.is_(None) & (OidcGrant.code_expires_at < before))
            )
        )

    # -- provider sessions ------------------------------------------------------------------
    def session(self, cookie_hash: bytes) -> OidcSession | None:
        return self._session.get(OidcSession, cookie_hash)

    def purge_sessions(self, before: dt.datetime) -> None:
        self._session.execute(delete(OidcSession).where(OidcSession.expires_at < before))

    def end_session(self, cookie_hash: bytes, now: dt.datetime) -> None:
        self._session.execute(
            update(OidcSession)
            .where(OidcSession.cookie_hash == cookie_hash, OidcSession.ended_at.is_(None))
            .values(ended_at=now)
            .execution_options(synchronize_session="fetch")
        )
