"""Monitoring tables.

* ``monitor_institution``: one row per monitored institution. It is the row a verification
  locks (``FOR UPDATE`` on PostgreSQL) so that its counting and the decision to answer are
  atomic with the query's own transaction; it also holds the institution's optional business
  hours override.
* ``monitor_mark``: the database counter store's window entries (``scope`` = institution id,
  ``counter`` = rule name, ``member`` = keyed hash of a document number or a random id).
  Old entries are pruned as new ones arrive. Times are integer milliseconds since the epoch.
* ``monitor_alert``: alerts (no personal data in ``details``), open until a security
  administrator resolves them with a reason.
* ``watch_entry``: watched document numbers, stored only as the registry's blind index
  (HMAC-SM3 under the blind-index key, with its key id): never plaintext, never an unkeyed hash.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from netid.db.base import Base, UtcDateTime


class MonitorInstitution(Base):
    __tablename__ = "monitor_institution"

    institution_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("institution.id"), primary_key=True
    )
    business_hours: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class MonitorMark(Base):
    __tablename__ = "monitor_mark"
    __table_args__ = (
        Index("uq_monitor_mark_member", "scope", "counter", "member", unique=True),
        Index("ix_monitor_mark_window", "scope", "counter", "at_ms"),
        Index("ix_monitor_mark_last", "scope", "counter", "seq"),  # the last M outcomes
    )

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    scope: Mapped[str] = mapped_column(String(64))
    counter: Mapped[str] = mapped_column(String(32))
    member: Mapped[str] = mapped_column(String(64))
    value: Mapped[int] = mapped_column(SmallInteger)
    at_ms: Mapped[int] = mapped_column(BigInteger)


class MonitorAlert(Base):
    __tablename__ = "monitor_alert"
    __table_args__ = (Index("ix_monitor_alert_open", "status", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    institution_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("institution.id"), index=True
    )
    rule: Mapped[str] = mapped_column(String(32))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(16))
    resolved_by: Mapped[str | None] = mapped_column(String(128))
    resolution_reason: Mapped[str | None] = mapped_column(String(1024))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class WatchEntry(Base):
    __tablename__ = "watch_entry"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    number_index: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    index_key_id: Mapped[str] = mapped_column(String(64))
    added_by: Mapped[str] = mapped_column(String(128))
    added_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
