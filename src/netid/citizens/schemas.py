"""Views and collaborators of the citizen controls (docs/decisions/0005 "Citizens")."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from netid.crypto.sealing import SealKey
from netid.enrolment.schemas import PendingWardEnrolment

LockMethod = Literal["document", "qr", "credential"]
LOCK_METHODS: tuple[LockMethod, ...] = ("document", "qr", "credential")
MAX_UNLOCK_MINUTES = 1440  # a temporary unlock lasts at most a day

# How long a request waits for a decision.
CONSENT_REQUEST_TTL = dt.timedelta(hours=24)
GUARDIAN_USE_TTL = dt.timedelta(minutes=10)
# An approved guardian request allows one verification within this window after approval.
GUARDIAN_APPROVAL_WINDOW = dt.timedelta(minutes=10)
DEFAULT_CONSENT_DAYS = 30

# Ages (completed years, China time). PIPL art. 31: consent for a child under 14 is the
# guardian's; docs/decisions/0005 "Minors": under 14 each use waits for a guardian, 14–17 the
# enrolment does; from 18 the guardian has no say.
GUARDIAN_USE_BELOW = 14
ADULT_AGE = 18


@dataclass(frozen=True)
class Citizen:
    """Who acts: the principal of a wallet session (netid.web.auth.citizen_session)."""

    person_id: str
    credential_id: str
    session_id: str | None = None

    @property
    def actor(self) -> str:
        # The credential id, never the person id or network ID: the actor is in clear in the
        # log, and a credential id is random and ends with the credential.
        return f"citizen:{self.credential_id}"


@dataclass(frozen=True)
class LockView:
    method: str
    locked: bool  # in effect now
    unlocked_until: dt.datetime | None  # a temporary unlock of a locked method, while it lasts
    updated_at: dt.datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "locked": self.locked,
            "unlocked_until": self.unlocked_until.isoformat() if self.unlocked_until else None,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
        }


@dataclass(frozen=True)
class RequestView:
    id: str
    kind: str
    # "self" (about me) or "ward" (about a minor I am a guardian of).
    about: str
    state: str
    institution_code: str | None
    institution_name: str | None
    purpose: str | None
    claims: tuple[str, ...]
    created_at: dt.datetime
    expires_at: dt.datetime
    decided_at: dt.datetime | None = None
    consent_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "about": self.about,
            "state": self.state,
            "institution_code": self.institution_code,
            "institution_name": self.institution_name,
            "purpose": self.purpose,
            "claims": list(self.claims),
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
        }
        if self.decided_at is not None:
            out["decided_at"] = self.decided_at.isoformat()
        if self.consent_id is not None:
            out["consent_id"] = self.consent_id
        return out


class Accounts(Protocol):
    """The network identity accounts (netid.enrolment), as the citizen controls use them."""

    def guardian_ids(self, ward_person_id: str) -> list[str]:
        """The ward's linked guardians who hold an active account."""
        ...

    def network_id_of(self, person_id: str) -> str | None: ...

    def account_key(self, person_id: str) -> SealKey | None: ...

    def set_credential_suspended(self, person_id: str, suspended: bool) -> object: ...

    def revoke_credentials(self, person_id: str, *, reason: str, actor: str) -> object: ...

    def unsafe_erase_account(self, person_id: str, *, actor: str) -> object: ...

    def pending_guardian_enrolments(
        self, guardian_person_id: str
    ) -> Sequence[PendingWardEnrolment]: ...

    def approve_enrolment_as_guardian(
        self, enrolment_id: str, guardian_person_id: str, *, actor: str
    ) -> object: ...

    def deny_enrolment_as_guardian(
        self, enrolment_id: str, guardian_person_id: str, *, actor: str
    ) -> object: ...
