"""Consent use cases: grant, look up, list, revoke. Services flush, never commit; every
change is an access record in the caller's transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from netid.audit.service import AccessRecorder
from netid.consent.errors import ConsentInvalid, ConsentNotFound
from netid.consent.models import Consent
from netid.consent.repository import ConsentRepository
from netid.consent.schemas import MAX_CONSENT_DAYS, ConsentView
from netid.core.clock import Clock
from netid.core.ids import new_row_id
from netid.crypto.sealing import SealKey

CHANNELS = frozenset({"counter", "wallet", "portal"})


def _view(row: Consent) -> ConsentView:
    return ConsentView(
        id=row.id,
        institution_id=row.institution_id,
        purpose=row.purpose,
        claims=tuple(row.claims.split()),
        channel=row.channel,
        granted_at=row.granted_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


class ConsentService:
    def __init__(
        self, *, repository: ConsentRepository, recorder: AccessRecorder, clock: Clock
    ) -> None:
        self._repo = repository
        self._recorder = recorder
        self._clock = clock

    def grant(
        self,
        *,
        person_id: str,
        person_key: SealKey,
        institution_id: str,
        purpose: str,
        claims: Iterable[str],
        days: int,
        channel: str,
        actor: str,
        allowed_claims: frozenset[str],
    ) -> ConsentView:
        """Record a consent. ``allowed_claims`` is the closed claim vocabulary (the policy
        catalogue's); a consent names only claims from it."""
        names = sorted(set(claims))
        if not names or not set(names) <= allowed_claims:
            raise ConsentInvalid("A consent names one or more known claims.")
        if not 1 <= days <= MAX_CONSENT_DAYS:
            raise ConsentInvalid(f"A consent lasts 1 to {MAX_CONSENT_DAYS} days.")
        if channel not in CHANNELS:
            raise ConsentInvalid("Unknown consent channel.")
        now = self._clock.now()
        row = Consent(
            id=new_row_id(),
            person_id=person_id,
            institution_id=institution_id,
            purpose=purpose,
            claims=" ".join(names),
            channel=channel,
            recorded_by=actor,
            granted_at=now,
            expires_at=now + dt.timedelta(days=days),
            revoked_at=None,
        )
        self._repo.add(row)
        self._recorder.record(
            actor=actor,
            action="consent.grant",
            outcome="ok",
            purpose=purpose,
            subject_key=person_key,
            subject_id=person_id,
            details={"consent_id": row.id, "institution_id": institution_id, "claims": names},
        )
        return _view(row)

    def granted_claims(self, person_id: str, institution_id: str, purpose: str) -> frozenset[str]:
        """The claims live consents cover now (revocation counts from the next request)."""
        rows = self._repo.live(person_id, institution_id, purpose, self._clock.now())
        return frozenset(name for row in rows for name in row.claims.split())

    def live(self, person_id: str, institution_id: str, purpose: str) -> list[ConsentView]:
        """The consents in force now for this institution and purpose."""
        rows = self._repo.live(person_id, institution_id, purpose, self._clock.now())
        return [_view(r) for r in rows]

    def of_person(self, person_id: str) -> list[ConsentView]:
        return [_view(r) for r in self._repo.of_person(person_id)]

    def get(self, consent_id: str) -> ConsentView | None:
        row = self._repo.get(consent_id)
        return _view(row) if row is not None else None

    def unsafe_delete_all(self, person_id: str, *, person_key: SealKey, actor: str) -> list[str]:
        """Delete every consent of the person (deregistration, issue 5 §10: the consents the
        platform collected are deleted, not kept as revoked). The log keeps their grant and
        revoke entries; this one access record names the deleted ids. Returns them."""
        deleted = sorted(self._repo.unsafe_delete_of_person(person_id))
        self._recorder.record(
            actor=actor,
            action="consent.delete_all",
            outcome="ok",
            subject_key=person_key,
            subject_id=person_id,
            details={"consent_ids": deleted},
        )
        return deleted

    def revoke(
        self, consent_id: str, *, person_id: str, person_key: SealKey, actor: str
    ) -> ConsentView:
        row = self._repo.get(consent_id)
        if row is None or row.person_id != person_id:
            raise ConsentNotFound()
        if row.revoked_at is None:
            row.revoked_at = self._clock.now()
            self._repo.flush()
        self._recorder.record(
            actor=actor,
            action="consent.revoke",
            outcome="ok",
            purpose=row.purpose,
            subject_key=person_key,
            subject_id=person_id,
            details={"consent_id": row.id, "institution_id": row.institution_id},
        )
        return _view(row)
