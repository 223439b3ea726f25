"""Administrator accounts.

``role`` is one NOT NULL column with a CHECK over the five roles: an account cannot hold two.
``totp_sealed`` is the TOTP secret sealed under the active data key (SM4-GCM, AAD
``admin_account|totp_secret|<id>``). ``totp_last_step`` is the last accepted RFC 6238 time
step (a code is accepted once); ``failed_count`` / ``locked_until`` carry the lockout;
``session_jti`` names the one live session (a new login or a logout ends the previous one).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from netid.db.base import Base, UtcDateTime

ROLE_VALUES = ("system_admin", "security_admin", "audit_admin", "registrar", "reviewer")


class AdminAccount(Base):
    __tablename__ = "admin_account"
    __table_args__ = (
        CheckConstraint(
            "role IN ('system_admin', 'security_admin', 'audit_admin', 'registrar', 'reviewer')",
            name="one_known_role",
        ),
        CheckConstraint("failed_count >= 0", name="failed_count_non_negative"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(256))
    totp_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    failed_count: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    enabled: Mapped[bool] = mapped_column(Boolean)
    session_jti: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
