"""Institution I/O: the application (pydantic, unknown fields refused), the status table, the
public view of an institution (no personal data) and the quota view."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from netid.core.fields import no_lone_surrogates
from netid.institutions.errors import InvalidTransition


def _no_controls(value: str) -> str:
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in value):
        raise ValueError("the text contains control characters")
    return value


Text = Annotated[str, AfterValidator(no_lone_surrogates), AfterValidator(_no_controls)]
Code = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z0-9_.-]+$")]


class InstitutionStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    FROZEN = "frozen"
    REVOKED = "revoked"
    REJECTED = "rejected"


S = InstitutionStatus
# The status machine as data (issue 3 §1): verb -> the statuses it may start from, and where it
# leads. ``apply`` creates the row in ``pending`` and is not a transition.
TRANSITIONS: Final[dict[str, tuple[frozenset[InstitutionStatus], InstitutionStatus]]] = {
    "approve": (frozenset({S.PENDING}), S.ACTIVE),
    "reject": (frozenset({S.PENDING}), S.REJECTED),
    "suspend": (frozenset({S.ACTIVE}), S.SUSPENDED),
    "freeze": (frozenset({S.ACTIVE}), S.FROZEN),
    "unfreeze": (frozenset({S.FROZEN}), S.ACTIVE),
    "reinstate": (frozenset({S.SUSPENDED}), S.ACTIVE),
    "revoke": (frozenset({S.ACTIVE, S.SUSPENDED, S.FROZEN}), S.REVOKED),
}
ALLOWED_TRANSITIONS: Final[frozenset[tuple[InstitutionStatus, InstitutionStatus]]] = frozenset(
    (start, end) for starts, end in TRANSITIONS.values() for start in starts
)


def next_status(current: InstitutionStatus, verb: str) -> InstitutionStatus:
    """Where ``verb`` leads from ``current``; raises :class:`InvalidTransition` otherwise."""
    rule = TRANSITIONS.get(verb)
    if rule is None or current not in rule[0]:
        raise InvalidTransition(details={"from": current.value, "action": verb})
    return rule[1]


class ContactIn(BaseModel):
    """A person named in the application (personal data: sealed at rest)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[Text, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9][0-9 -]{4,30}$")]
    email: Annotated[
        str, StringConstraints(max_length=254, pattern=r"^[^@\s]{1,64}@[A-Za-z0-9.-]{1,189}$")
    ]


class AgreementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Annotated[
        str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    ]
    accepted: bool


class ApplicationIn(BaseModel):
    """An institution's application for access (issue 3 §1)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[Text, StringConstraints(min_length=1, max_length=256, strip_whitespace=True)]
    uscc: Annotated[Text, StringConstraints(min_length=1, max_length=64)]
    industry: Code
    purposes: list[Code] = Field(min_length=1, max_length=32)
    location: Literal["domestic", "abroad"]
    agreement: AgreementIn
    website: Annotated[Text, StringConstraints(max_length=512)] | None = None
    legal_representative: ContactIn
    contact: ContactIn
    public_jwks: list[dict[str, Any]] = Field(min_length=1, max_length=5)


class ApplicationReceipt(BaseModel):
    id: str
    status: InstitutionStatus


@dataclass(frozen=True, slots=True)
class InstitutionView:
    """What other packages and the admin API see of an institution: no personal data."""

    id: str
    code: str | None
    client_id: str | None
    name: str
    uscc: str
    industry: str
    purposes: tuple[str, ...]
    location: str
    status: InstitutionStatus
    price_plan: str | None
    sector: str | None
    agreement_version: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "code": self.code,
            "client_id": self.client_id,
            "name": self.name,
            "uscc": self.uscc,
            "industry": self.industry,
            "purposes": list(self.purposes),
            "location": self.location,
            "status": self.status.value,
            "price_plan": self.price_plan,
            "sector": self.sector,
            "agreement_version": self.agreement_version,
        }


@dataclass(frozen=True, slots=True)
class StatusChange:
    from_status: InstitutionStatus | None
    to_status: InstitutionStatus
    actor: str
    reason: str
    at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.from_status.value if self.from_status else None,
            "to": self.to_status.value,
            "actor": self.actor,
            "reason": self.reason,
            "at": self.at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class QuotaStatus:
    verification_type: str
    limit: int
    used: int
    month: str  # "YYYY-MM", China time

    def to_json(self) -> dict[str, Any]:
        return {
            "verification_type": self.verification_type,
            "limit": self.limit,
            "used": self.used,
            "remaining": max(0, self.limit - self.used),
            "month": self.month,
        }


@dataclass(frozen=True, slots=True)
class ApplicationContacts:
    """The sealed part of an application, opened (personal data: every opening is recorded)."""

    legal_representative: dict[str, str]
    contact: dict[str, str]
