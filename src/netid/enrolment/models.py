"""Tables of netid.enrolment (docs/decisions/0005).

Every person-owned row carries ``person_id`` (the shard key, DESIGN.md "Storage and scale").
Personal values are sealed (SM4-GCM, AAD = table|column|row id|key id): the bound phone and
the enrolment document under the per-account key (so deregistration, which deletes that key,
crypto-shreds them), the pending enrolment's phone and document under the data key, face
templates under the face key. Only ids, states, key ids, thumbprints of public keys and
timestamps are in clear.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from netid.db.base import Base, UtcDateTime


class NetworkIdentity(Base):
    """One per person for life: the network ID (网号) and the account key.

    The row outlives deregistration (the network ID identifies nothing by itself, and a
    re-enrolment gets the same one); what deregistration deletes is the account key, the
    bound phone and the enrolment document.
    """

    __tablename__ = "network_identity"

    person_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    )
    # 16 characters (15 random + ISO/IEC 7064 MOD 37-36 check), canonical form.
    net_id: Mapped[str] = mapped_column(String(16), unique=True)
    status: Mapped[str] = mapped_column(String(16))  # active | deregistered
    # The per-account SM4 key, wrapped by a data key (AAD row id = person_id/key id). It seals
    # the subject references of wallet-side access records: deleting it crypto-shreds them.
    account_key_id: Mapped[str | None] = mapped_column(String(8))
    account_key_wrapped: Mapped[bytes | None] = mapped_column(LargeBinary)
    data_key_id: Mapped[str | None] = mapped_column(String(8), index=True)
    # The bound phone (where login codes go) and the enrolment document ({"type", "number"}),
    # both under the account key.
    phone_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    document_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    deregistered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class Enrolment(Base):
    """One enrolment attempt (申领): chip read → face → code → PIN and device proof.

    The enrolment id the client holds is a 128-bit secret; only its SHA-256 is stored
    (``secret_hash``), so a database reader cannot drive someone's enrolment. ``id`` is a
    plain row id (guardians see it in their request list).
    """

    __tablename__ = "enrolment"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    person_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("person.id", ondelete="CASCADE"), index=True
    )
    # face_pending → otp_pending → ready → (awaiting_guardian → ready) → completed; or denied.
    state: Mapped[str] = mapped_column(String(24))
    supervision: Mapped[str] = mapped_column(String(24))  # none | guardian_enrols | …_approves
    # Under 14: the guardian whose wallet session started it; 14–17: the guardian who decided.
    guardian_person_id: Mapped[str | None] = mapped_column(String(32), index=True)
    guardian_decided_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    device_jwk: Mapped[str] = mapped_column(Text)
    device_thumbprint: Mapped[str] = mapped_column(String(64))
    # Where the codes go and which document was read, under the data key (short-lived rows).
    phone_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    document_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    # The live face template of the face step, under the face key, until completion.
    face_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    face_model: Mapped[str | None] = mapped_column(String(64))
    face_failures: Mapped[int] = mapped_column(Integer)
    credential_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    completed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class StatusList(Base):
    """A Token Status List (draft-ietf-oauth-status-list) of ``size`` entries of ``bits`` bits.
    The list itself is computed from the credential rows when it is served."""

    __tablename__ = "status_list"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    bits: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    allocated: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class Credential(Base):
    """A network credential (网证) bound to one device key and PIN.

    ``status`` is ``active`` or ``revoked``; ``suspended`` is the person's ``credential`` lock
    (status list SUSPENDED). The status list index is drawn at random among the free ones.
    """

    __tablename__ = "credential"
    __table_args__ = (
        UniqueConstraint("status_list_id", "status_index", name="uq_credential_status_slot"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    person_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("person.id", ondelete="CASCADE"), index=True
    )
    enrolment_id: Mapped[str] = mapped_column(String(32))
    device_jwk: Mapped[str] = mapped_column(Text)
    device_thumbprint: Mapped[str] = mapped_column(String(64), index=True)
    pin_hash: Mapped[str | None] = mapped_column(String(256))
    failed_pins: Mapped[int] = mapped_column(Integer)
    lockouts: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(16))
    suspended: Mapped[bool] = mapped_column(Boolean)
    status_list_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("status_list.id", ondelete="RESTRICT")
    )
    status_index: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    revocation_reason: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    # The ed25519_signing key that signed the SD-JWT now held by the wallet: while the
    # credential lives, retiring that key would make it unverifiable offline (JWKS drops it).
    signing_key_id: Mapped[str | None] = mapped_column(String(8), index=True)


class OneTimeCode(Base):
    """A 6-digit code sent by SMS, stored as HMAC-SM3 under a token_mac key.

    One row per (purpose, owner): the enrolment id for ``enrolment``, the credential id for
    ``login``. A resend replaces the code and its expiry but keeps ``tries`` (SEC-03).
    """

    __tablename__ = "one_time_code"
    __table_args__ = (UniqueConstraint("purpose", "owner_id", name="uq_one_time_code_owner"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    person_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("person.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(16))
    owner_id: Mapped[str] = mapped_column(String(32))
    code_mac: Mapped[bytes] = mapped_column(LargeBinary)
    mac_key_id: Mapped[str] = mapped_column(String(8))
    tries: Mapped[int] = mapped_column(Integer)
    sends: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    last_failed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class DeviceProofUse(Base):
    """A device proof's ``jti``, kept until the proof could no longer be fresh: each proof is
    accepted once (replay of a captured proof fails)."""

    __tablename__ = "device_proof_use"

    thumbprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), index=True)


class CollectedFace(Base):
    """The live face template collected at enrolment (the L2/L3 reference), under the face
    key; deleted at deregistration."""

    __tablename__ = "collected_face"
    __table_args__ = (Index("ix_collected_face_face_key_id", "face_key_id"),)

    person_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    )
    model: Mapped[str] = mapped_column(String(64))
    template_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    face_key_id: Mapped[str] = mapped_column(String(8))
    enrolment_id: Mapped[str] = mapped_column(String(32))
    collected_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
