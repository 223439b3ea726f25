"""Plain data of netid.enrolment: what its service hands to routes, citizens and verification."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, Literal

from netid.crypto.jose_keys import JosePublicKey
from netid.policy.schemas import AGE_MARKERS as AGE_MARKER_CLAIMS
from netid.policy.schemas import PLAINTEXT_CLAIMS

# -- constants (docs/decisions/0005) -------------------------------------------------------------
ENROLMENT_TTL: Final = dt.timedelta(minutes=30)  # chip read → completion
GUARDIAN_WAIT: Final = dt.timedelta(days=7)  # 14–17: how long a request waits for a guardian
OTP_TTL: Final = dt.timedelta(minutes=5)
OTP_TRIES: Final = 5
OTP_DIGITS: Final = 6
LOGIN_CODE_COOLDOWN: Final = dt.timedelta(minutes=15)  # an exhausted login code, then a new one
PIN_TRIES: Final = 5
PIN_LOCK: Final = dt.timedelta(minutes=15)  # doubling with each further lockout
PIN_LOCK_MAX: Final = dt.timedelta(days=1)
FACE_TRIES: Final = 5  # SEC-09: at most 5 consecutive face failures per enrolment
PROOF_SKEW_SECONDS: Final = 60  # device proofs and liveness results: iat within ±60 s
CREDENTIAL_MAX_DAYS: Final = 365
SESSION_TTL_SECONDS: Final = 15 * 60
MAX_QR_REFS: Final = 40
AGE_MARKERS: Final = (14, 16, 18, 60)
ADULT_AGE: Final = 18
GUARDIAN_ENROLS_BELOW: Final = 14
STATUS_LIST_BITS: Final = 2
STATUS_LIST_SIZE: Final = 2**17
STATUS_LIST_TTL_SECONDS: Final = 300  # how long a relying party may cache a list
STATUS_LIST_LIFETIME_SECONDS: Final = 24 * 3600
VCT: Final = "urn:netid:credential:network-identity:1"
# The policy vocabulary's plaintext claims and age markers, each selectively disclosable.
DISCLOSABLE_CLAIMS: Final = PLAINTEXT_CLAIMS + AGE_MARKER_CLAIMS

Assurance = Literal["L1", "L2", "L3"]
ASSURANCE_LEVELS: Final[tuple[Assurance, ...]] = ("L1", "L2", "L3")


class EnrolmentState(StrEnum):
    FACE_PENDING = "face_pending"
    OTP_PENDING = "otp_pending"
    READY = "ready"  # face and code done: PIN + device proof next
    AWAITING_GUARDIAN = "awaiting_guardian"
    COMPLETED = "completed"
    DENIED = "denied"
    FAILED = "failed"  # too many face failures


class Supervision(StrEnum):
    NONE = "none"
    GUARDIAN_ENROLS = "guardian_enrols"  # under 14
    GUARDIAN_APPROVES = "guardian_approves"  # 14–17


class StatusCode:
    """Token Status List values (draft-ietf-oauth-status-list §7.1, with bits = 2)."""

    VALID: Final = 0
    INVALID: Final = 1
    SUSPENDED: Final = 2


@dataclass(frozen=True)
class EnrolmentStarted:
    enrolment_id: str = field(repr=False)  # the 128-bit secret the client keeps
    expires_at: dt.datetime
    phone_hint: str
    supervision: Supervision
    steps: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "enrolment_id": self.enrolment_id,
            "expires_at": self.expires_at.isoformat(),
            "phone_hint": self.phone_hint,
            "supervision": self.supervision.value,
            "steps": list(self.steps),
        }


@dataclass(frozen=True)
class IssuedCredential:
    network_id: str  # display form XXXX-XXXX-XXXX-XXXX
    credential_id: str
    credential: str = field(repr=False)  # SD-JWT VC, compact, with every disclosure
    expires_at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "network_id": self.network_id,
            "credential_id": self.credential_id,
            "credential": self.credential,
            "expires_at": self.expires_at.isoformat(),
        }


@dataclass(frozen=True)
class Completion:
    """What ``complete`` answers: the credential, or ``awaiting_guardian`` (no credential)."""

    state: EnrolmentState
    issued: IssuedCredential | None = None


@dataclass(frozen=True)
class WalletSession:
    token: str = field(repr=False)
    assurance: Assurance
    expires_at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "assurance": self.assurance,
            "expires_at": self.expires_at.isoformat(),
        }


@dataclass(frozen=True)
class CitizenPrincipal:
    """The person behind a wallet session, checked against the database on this request."""

    person_id: str
    credential_id: str
    session_id: str
    assurance: Assurance
    session_expires_at: int = 0  # Unix seconds (the session token's exp)


@dataclass(frozen=True)
class CredentialRef:
    """An opened credential reference (the ``ref`` of a QR token): credential id, the session's
    assurance level, the session id and the reference's own expiry (Unix seconds)."""

    cid: str
    lvl: Assurance
    sid: str
    exp: int


@dataclass(frozen=True)
class QrCredential:
    """What a ``netid_qr`` verification needs about a credential (read fresh, no cache).

    ``status``: ``active``, ``revoked``, ``expired`` or ``suspended``; ``account_status``:
    ``active`` or ``deregistered``.
    """

    credential_id: str
    person_id: str
    subject_id: str | None
    device_key: JosePublicKey | None = field(repr=False)  # None once erased (deregistered)
    device_jwk: dict[str, Any] = field(repr=False)
    status: str
    account_status: str
    expires_at: dt.datetime


@dataclass(frozen=True)
class PendingWardEnrolment:
    """A 14–17-year-old's enrolment waiting for a guardian's decision."""

    enrolment_id: str  # the row id (not the ward's secret)
    ward_person_id: str
    ward_name_masked: str
    requested_at: dt.datetime
    expires_at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "enrolment_id": self.enrolment_id,
            "ward_name": self.ward_name_masked,
            "requested_at": self.requested_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
        }


@dataclass(frozen=True)
class AccountView:
    """``GET /v1/wallet/me``."""

    network_id: str
    credential_id: str
    status: str
    expires_at: dt.datetime
    assurance: Assurance
    age_band: str  # under_14 | 14_17 | adult

    def to_json(self) -> dict[str, Any]:
        return {
            "network_id": self.network_id,
            "credential_id": self.credential_id,
            "status": self.status,
            "expires_at": self.expires_at.isoformat(),
            "assurance": self.assurance,
            "age_band": self.age_band,
        }


def age_on(birth: dt.date, today: dt.date) -> int:
    """Completed years on ``today`` (a birthday counts from its own day; 29 February counts
    from 1 March in common years)."""
    years = today.year - birth.year
    if (today.month, today.day) < (birth.month, birth.day):
        years -= 1
    return years


def birthday(birth: dt.date, years: int) -> dt.date:
    """The day someone born on ``birth`` turns ``years`` (29 February → 1 March)."""
    try:
        return birth.replace(year=birth.year + years)
    except ValueError:  # 29 February in a common year
        return dt.date(birth.year + years, 3, 1)


def age_band(age: int) -> str:
    if age < GUARDIAN_ENROLS_BELOW:
        return "under_14"
    if age < ADULT_AGE:
        return "14_17"
    return "adult"
