"""Separate consents (单独同意): a person's permission for one institution to receive named
plaintext claims for one purpose, until it expires or is revoked."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from netid.db.base import Base, UtcDateTime


class Consent(Base):
    __tablename__ = "consent"
    __table_args__ = (Index("ix_consent_subject", "person_id", "institution_id", "purpose"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    person_id: Mapped[str] = mapped_column(String(32), ForeignKey("person.id", ondelete="CASCADE"))
    # The institution's row id; no foreign key on purpose: consent sits beside the
    # institutions package, not under it (siblings, DESIGN.md layering).
    institution_id: Mapped[str] = mapped_column(String(32))
    purpose: Mapped[str] = mapped_column(String(64))
    # Space-separated claim names, sorted (a closed vocabulary: no personal data).
    claims: Mapped[str] = mapped_column(String(256))
    # How the consent was given: "counter" (recorded by an operator from a signed form),
    # later "wallet" and "portal".
    channel: Mapped[str] = mapped_column(String(16))
    recorded_by: Mapped[str] = mapped_column(String(128))
    granted_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
