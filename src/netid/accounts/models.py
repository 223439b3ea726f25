"""Tables of netid.accounts (docs/decisions/0006 "Without a wallet").

``person_id`` (the shard key, DESIGN.md "Storage and scale") on every person-owned row. No
personal value in clear: the password is an argon2id hash, a code is HMAC-SM3 under a
token_mac key, the client-held set-up and challenge ids are stored as SHA-256, and the
document number typed at set-up (to refuse it as the password) is sealed under the data key
(AAD account_code|number|row id|key id) for the five minutes the row lives.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from netid.db.base import Base, UtcDateTime


class PasswordAccount(Base):
    """One per person who set a password: the hash and the lockout state."""

    __tablename__ = "password_account"

    person_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    )
    password_hash: Mapped[str] = mapped_column(String(256))  # argon2id PHC string
    failed_logins: Mapped[int] = mapped_column(Integer)
    lockouts: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    password_set_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class AccountCode(Base):
    """A set-up (``purpose`` setup) or login challenge (``login``) and its 6-digit code.

    A set-up for a number nobody holds, or whose holder has no phone, is a *dead* row:
    ``person_id`` NULL and a random ``code_mac`` that no code matches, so it counts tries and
    expires exactly like a live one (the browser cannot tell them apart).
    """

    __tablename__ = "account_code"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    purpose: Mapped[str] = mapped_column(String(16))
    person_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("person.id", ondelete="CASCADE"), index=True
    )
    code_mac: Mapped[bytes] = mapped_column(LargeBinary)
    mac_key_id: Mapped[str] = mapped_column(String(8), index=True)
    number_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    tries: Mapped[int] = mapped_column(Integer)
    sent: Mapped[bool] = mapped_column(Boolean)  # a code went out (it counts to the cap)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), index=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
