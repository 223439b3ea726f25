"""Queries of consents."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from netid.consent.models import Consent


class ConsentRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, consent: Consent) -> None:
        self._session.add(consent)
        self._session.flush()

    def get(self, consent_id: str) -> Consent | None:
        return self._session.get(Consent, consent_id)

    def live(
        self, person_id: str, institution_id: str, purpose: str, now: dt.datetime
    ) -> Sequence[Consent]:
        return self._session.scalars(
            select(Consent).where(
                Consent.person_id == person_id,
                Consent.institution_id == institution_id,
                Consent.purpose == purpose,
                Consent.revoked_at.is_(None),
                Consent.expires_at > now,
            )
        ).all()

    def of_person(self, person_id: str) -> Sequence[Consent]:
        return self._session.scalars(
            select(Consent).where(Consent.person_id == person_id).order_by(Consent.granted_at)
        ).all()

    def unsafe_delete_of_person(self, person_id: str) -> list[str]:
        """Delete every consent of the person (live, expired, revoked); returns their ids. One
        statement, so a consent committed by another request before it runs goes too."""
        return list(
            self._session.scalars(
                delete(Consent).where(Consent.person_id == person_id).returning(Consent.id)
            ).all()
        )

    def flush(self) -> None:
        self._session.flush()
