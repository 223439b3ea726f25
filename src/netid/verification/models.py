"""Tables of netid.verification: the one-time QR nonces (docs/decisions/0005)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from netid.db.base import Base, UtcDateTime


class QrNonce(Base):
    """A QR nonce that has been redeemed. The primary key is what makes redemption exactly
    once (SEC-16): a second insert of the same nonce fails, also when two server processes
    race (PostgreSQL makes the second insert wait for the first transaction, then refuses it).
    The key is :func:`netid.verification.service.qr_nonce_key` (16 bytes of a hash of the
    credential id and the wallet's random nonce; nothing readable). Rows past
    ``expires_at`` can be purged; a token is refused by its expiry long before that."""

    __tablename__ = "qr_nonce"

    nonce: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), index=True)
