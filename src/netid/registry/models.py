"""The legal identity registry.

Only ids, key ids, blind indexes, document type codes, document status and timestamps are in
plaintext; every personal value is sealed (``*_sealed``: SM4-GCM, AAD = table|column|row
id|key id). ``person_id`` on every person-owned row is the shard key (DESIGN.md "Storage and
scale").
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from netid.db.base import Base, UtcDateTime


class Person(Base):
    __tablename__ = "person"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # Random, permanent, never shown to institutions directly: pairwise pseudonyms derive
    # from it (DESIGN.md "Pseudonyms").
    subject_id: Mapped[str] = mapped_column(String(32), unique=True)
    name_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    # sex, birth_date, nationality, ethnicity, region_code, status, death_date (JSON).
    attributes_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    phones_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class PersonKey(Base):
    """The per-person SM4 key, wrapped by a data key; deleting the row crypto-shreds."""

    __tablename__ = "person_key"

    person_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    )
    key_id: Mapped[str] = mapped_column(String(8))
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    data_key_id: Mapped[str] = mapped_column(String(8), index=True)


class Document(Base):
    __tablename__ = "document"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    person_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("person.id", ondelete="CASCADE"), index=True
    )
    type_code: Mapped[str] = mapped_column(String(2))
    # HMAC-SM3(blind-index key, type_code ":" normalized number); unique per key.
    number_index: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    index_key_id: Mapped[str] = mapped_column(String(8), index=True)
    # {"number", "issued_on", "expires_on"} sealed under the person's key.
    data_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class GuardianLink(Base):
    __tablename__ = "guardian_link"
    __table_args__ = (Index("ix_guardian_link_pair", "ward_id", "guardian_id", unique=True),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ward_id: Mapped[str] = mapped_column(String(32), ForeignKey("person.id", ondelete="CASCADE"))
    guardian_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("person.id", ondelete="CASCADE"), index=True
    )
    # The relation, sealed under the ward's key.
    relation_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class FaceTemplate(Base):
    """Face templates (never images), sealed under the separate face key."""

    __tablename__ = "face_template"

    person_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    )
    model: Mapped[str] = mapped_column(String(64))
    template_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    face_key_id: Mapped[str] = mapped_column(String(8), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class PersonMarker(Base):
    """A marker every answer about this person carries: ``disputed`` (异议标注: the person
    contests a registry field, pending correction) or ``fraud_warning`` (冒用警示: the person
    reported misuse of their identity). Low cardinality and attached to a random row id, so
    plaintext; the reason is sealed under the person's key."""

    __tablename__ = "person_marker"

    person_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    )
    marker: Mapped[str] = mapped_column(String(32), primary_key=True)
    reason_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    set_by: Mapped[str] = mapped_column(String(128))
    set_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
