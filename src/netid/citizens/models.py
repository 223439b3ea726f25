"""Tables of netid.citizens (docs/decisions/0005 "Citizens").

* ``method_lock``: a person's lock on one verification method (``document``, ``qr``,
  ``credential``), with an optional temporary unlock window. No row means unlocked.
* ``citizen_request``: something waiting for a person's (or a guardian's) decision — a
  separate-consent request opened by a verification, or a guardian request for one use by a
  ward under 14. Closed vocabulary and ids only: no personal data in clear.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from netid.db.base import Base, UtcDateTime

LOCK_METHODS = ("document", "qr", "credential")
REQUEST_KINDS = ("consent", "guardian_use", "guardian_enrolment")
REQUEST_STATES = ("pending", "approved", "denied", "expired", "used")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class MethodLock(Base):
    __tablename__ = "method_lock"
    __table_args__ = (CheckConstraint(_one_of("method", LOCK_METHODS), name="method_known"),)

    person_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    )
    method: Mapped[str] = mapped_column(String(16), primary_key=True)
    locked: Mapped[bool] = mapped_column(Boolean)
    # A temporary unlock of a locked method: unlocked while now < unlocked_until, locked
    # again from that instant on, without anyone having to act.
    unlocked_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class CitizenRequest(Base):
    __tablename__ = "citizen_request"
    __table_args__ = (
        CheckConstraint(_one_of("kind", REQUEST_KINDS), name="kind_known"),
        CheckConstraint(_one_of("state", REQUEST_STATES), name="state_known"),
        # The approvals a verification may consume (take_guardian_use_approval).
        Index("ix_citizen_request_subject", "person_id", "institution_id", "purpose", "state"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    # The person the request is about (the ward for a guardian request).
    person_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("person.id", ondelete="CASCADE"), index=True
    )
    # Who decides: the person, or one of their guardians (one row per guardian).
    addressee_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("person.id", ondelete="CASCADE"), index=True
    )
    # The rows sent to several guardians for one request share a group id (the id the
    # verification gets back); the first decision closes the others.
    group_id: Mapped[str] = mapped_column(String(32), index=True)
    institution_id: Mapped[str | None] = mapped_column(String(32))
    institution_code: Mapped[str | None] = mapped_column(String(32))
    institution_name: Mapped[str | None] = mapped_column(String(256))
    purpose: Mapped[str | None] = mapped_column(String(64))
    # Space-separated claim names, sorted (a closed vocabulary: no personal data).
    claims: Mapped[str] = mapped_column(String(256))
    verification_id: Mapped[str | None] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    # Set while pending, NULL once decided: the unique index allows one pending request per
    # (kind, person, addressee, institution, purpose, claim set), also under concurrency
    # (two verifications racing insert; the second waits and fails, then reuses the first).
    pending_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    decided_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
