"""The transparency log's tables (issue 4 §1).

``access_record`` rows ARE the log's entries: ``log_index`` (0-based, gap-free, assigned under
the ``log_head`` row lock) is the leaf index, ``canonical`` the RFC 8785 (JCS) entry and
``leaf_hash`` its RFC 9162 §2.1.1 leaf hash H(0x00 || entry). ``log_node`` caches the perfect
subtree hashes (level >= 1) completed by each append, so proofs read O(log n) rows;
``log_checkpoint`` keeps every signed checkpoint. All three are append-only: the database
refuses UPDATE and DELETE (netid.db.append_only). ``seq`` is the row's storage key only.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, Integer, LargeBinary, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from netid.db.base import Base, UtcDateTime


class AccessRecord(Base):
    __tablename__ = "access_record"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    id: Mapped[str] = mapped_column(String(32), unique=True)
    log_index: Mapped[int] = mapped_column(BigInteger, unique=True)
    recorded_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(32))
    # The person concerned, sealed under that person's own key: crypto-shredding the person
    # makes the reference unreadable while the entry and its hash stay.
    subject_ref_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    # HMAC-SM3 under the person's own key (netid.audit.service.subject_tag): the index by
    # which the person's own entries are found without opening every sealed reference. Only
    # the person's key makes it; crypto-shredding the key leaves it linking nothing.
    subject_tag: Mapped[bytes | None] = mapped_column(LargeBinary, index=True)
    canonical: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary)


class LogHead(Base):
    """One row: the tree's hash algorithm (fixed when the log is created), size and frontier
    (the roots of its perfect subtrees, :class:`netid.crypto.merkle.Frontier`)."""

    __tablename__ = "log_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hash_alg: Mapped[str] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(BigInteger)
    frontier: Mapped[bytes] = mapped_column(LargeBinary)


class LogNode(Base):
    """The hash of the perfect subtree of 2**level leaves starting at leaf idx * 2**level."""

    __tablename__ = "log_node"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary)


class LogCheckpoint(Base):
    """A signed C2SP checkpoint of the tree at ``tree_size`` (the PK makes a cut idempotent)."""

    __tablename__ = "log_checkpoint"

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary)
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
