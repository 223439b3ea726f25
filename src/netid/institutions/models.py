"""Institutions (relying parties), their status history, monthly quotas and quota usage.

An application *is* an institution row in status ``pending``; approval fills in the code,
client id, price plan and quotas. Personal data of the application (legal representative and
contact) lives only in ``application_sealed`` (SM4-GCM under the active data key, AAD
``institution|application|<id>``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from netid.db.base import Base, UtcDateTime


class Institution(Base):
    __tablename__ = "institution"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    name: Mapped[str] = mapped_column(String(256))
    uscc: Mapped[str] = mapped_column(String(18), index=True)
    industry: Mapped[str] = mapped_column(String(64))
    purposes: Mapped[list[str]] = mapped_column(JSON)
    location: Mapped[str] = mapped_column(String(16))
    agreement_version: Mapped[str] = mapped_column(String(64))
    website: Mapped[str | None] = mapped_column(String(512))
    # The pairwise-pseudonym sector: the website's host, else the institution code (so it is
    # known only from approval on when there is no website).
    sector: Mapped[str | None] = mapped_column(String(255))
    application_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    public_jwks: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    code: Mapped[str | None] = mapped_column(String(32), unique=True)
    client_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    price_plan: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class InstitutionStatusChange(Base):
    __tablename__ = "institution_status_change"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    institution_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("institution.id"), index=True
    )
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(String(1024))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class InstitutionQuota(Base):
    __tablename__ = "institution_quota"

    institution_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("institution.id"), primary_key=True
    )
    verification_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    monthly_limit: Mapped[int] = mapped_column(Integer)


class QuotaUsage(Base):
    __tablename__ = "quota_usage"

    institution_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("institution.id"), primary_key=True
    )
    verification_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # "YYYY-MM", China time
    used: Mapped[int] = mapped_column(Integer)
