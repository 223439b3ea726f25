"""Access records: one append-only row per access to personal data.

The audit issue turns these rows into the leaves of the transparency log; the row already has
what that needs: a monotonically increasing ``seq`` (the log index) and the canonical (RFC 8785
JCS) encoding of the entry.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from netid.db.base import Base, UtcDateTime


class AccessRecord(Base):
    __tablename__ = "access_record"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    id: Mapped[str] = mapped_column(String(32), unique=True)
    recorded_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(32))
    # The person concerned, sealed under that person's own key: crypto-shredding the person
    # makes the reference unreadable while the entry (and later its hash) stays.
    subject_ref_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    canonical: Mapped[bytes] = mapped_column(LargeBinary)
