"""Tables of netid.sms (docs/decisions/0005)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from netid.db.base import Base, UtcDateTime


class SmsOutboxMessage(Base):
    """One text message "sent" by the embedded sender: the stand-in for the phone network.

    Phone and text are personal (the text carries a one-time code), so both are sealed under
    the data key with the AAD binding ``sms_outbox|<column>|<id>|<key id>`` (DESIGN.md "Sealed
    values"); ``key_id`` names that data key so rotation can find the rows still under an old
    one. ``purpose`` is a code from a closed vocabulary (``enrolment_otp``, ``login_otp``…).
    """

    __tablename__ = "sms_outbox"
    __table_args__ = (Index("ix_sms_outbox_created_at", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    phone_sealed: Mapped[bytes] = mapped_column(LargeBinary())
    text_sealed: Mapped[bytes] = mapped_column(LargeBinary())
    key_id: Mapped[str] = mapped_column(String(8), index=True)
    purpose: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
