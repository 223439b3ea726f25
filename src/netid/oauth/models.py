"""The replay cache of client assertions: each ``jti`` is accepted once per client
(RFC 7523 §3 item 7), kept until the assertion could no longer be accepted anyway."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from netid.db.base import Base, UtcDateTime


class UsedAssertion(Base):
    __tablename__ = "used_assertion"
    __table_args__ = (UniqueConstraint("client_id", "jti_hash", name="uq_used_assertion_jti"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(128))
    # SM3 of the jti: the client's value is stored at a fixed size, whatever its length.
    jti_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    used_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), index=True)
