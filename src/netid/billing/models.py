"""One charge row per receipt (answered or refused), written in the verification's transaction."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from netid.db.base import Base, UtcDateTime


class Charge(Base):
    __tablename__ = "charge"
    __table_args__ = (Index("ix_charge_institution_month", "institution_id", "month"),)

    # The receipt id is the access record id: one charge per receipt, never two.
    receipt_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    institution_id: Mapped[str] = mapped_column(String(32))
    institution_code: Mapped[str] = mapped_column(String(32))
    # The billing month "YYYY-MM" in China Standard Time (UTC+8), fixed when charged.
    month: Mapped[str] = mapped_column(String(7), index=True)
    verification_type: Mapped[str] = mapped_column(String(32))
    purpose: Mapped[str] = mapped_column(String(64))
    result_class: Mapped[str] = mapped_column(String(16))
    price_fen: Mapped[int] = mapped_column(Integer)
    charged_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
