"""The keyring table: every platform key, wrapped under the master key."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from netid.db.base import Base, UtcDateTime


class KeyRecord(Base):
    __tablename__ = "keyring"

    key_id: Mapped[str] = mapped_column(String(8), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32), index=True)
    algorithm: Mapped[str] = mapped_column(String(32))
    # active: used for new work; retiring: still opens/verifies old data; retired: gone.
    state: Mapped[str] = mapped_column(String(16))
    # Secret material sealed under the master key (AAD keyring|material|key_id|master id).
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary)
    master_key_id: Mapped[str | None] = mapped_column(String(8))
    public: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    retired_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
