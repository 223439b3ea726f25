"""Queries of netid.enrolment (flush, never commit)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from netid.db.driver import DriverQuery
from netid.enrolment.models import (
    CollectedFace,
    Credential,
    DeviceProofUse,
    Enrolment,
    NetworkIdentity,
    OneTimeCode,
    StatusList,
)
from netid.registry.models import GuardianLink, Person

# A sealed value starts with one version byte, then the 8 ASCII characters of the key id
# (netid.crypto.sealing): the key that seals a cell is readable in SQL without opening it.
_KEY_ID_AT, _KEY_ID_LENGTH = 2, 8


def _sealed_by(column: InstrumentedAttribute[bytes | None], key_id: str) -> ColumnElement[bool]:
    """The cell holds a value sealed under ``key_id`` (erased cells, ``b""``, never match)."""
    return and_(
        func.length(column) > 0,
        func.substr(column, _KEY_ID_AT, _KEY_ID_LENGTH) == key_id.encode("ascii"),
    )


def _sealed_by_other(
    column: InstrumentedAttribute[bytes | None], key_id: str
) -> ColumnElement[bool]:
    """The cell holds a value sealed under another key than ``key_id`` (not erased)."""
    return and_(
        func.length(column) > 0,
        func.substr(column, _KEY_ID_AT, _KEY_ID_LENGTH) != key_id.encode("ascii"),
    )


class QrCredentialRow(NamedTuple):
    """What a ``netid_qr`` redemption reads of a credential, its person and their account."""

    id: str
    person_id: str
    status: str
    suspended: bool
    expires_at: dt.datetime
    device_jwk: str
    subject_id: str | None
    account_status: str | None  # None: no network identity (deregistered)


class SealedIdentityRow(NamedTuple):
    """The sealed parts of a network identity that open a person's account key and
    enrolment document."""

    person_id: str
    account_key_id: str | None
    account_key_wrapped: bytes | None
    document_sealed: bytes | None


_IDENTITY = NetworkIdentity.__table__.c
# Read on every QR redemption and wallet-side record (twice per redemption through the ORM,
# ≈ a fifth of it): on the driver's cursor.
_SEALED_IDENTITY = DriverQuery(
    f"SELECT {', '.join(SealedIdentityRow._fields)}"  # noqa: S608
    " FROM network_identity WHERE person_id = ?",
    params=[_IDENTITY.person_id],
    returns=SealedIdentityRow,
    columns=[_IDENTITY[name] for name in SealedIdentityRow._fields],
)

_CREDENTIAL = Credential.__table__.c
# Read on every QR redemption: one statement on the driver's cursor (netid.db.driver) for
# what took three ORM queries (≈ a sixth of a redemption).
_QR_CREDENTIAL = DriverQuery(
    "SELECT c.id, c.person_id, c.status, c.suspended, c.expires_at, c.device_jwk,"
    " p.subject_id, n.status FROM credential c"
    " LEFT JOIN person p ON p.id = c.person_id"
    " LEFT JOIN network_identity n ON n.person_id = c.person_id"
    " WHERE c.id = ?",
    params=[_CREDENTIAL.id],
    returns=QrCredentialRow,
    columns=[
        _CREDENTIAL.id,
        _CREDENTIAL.person_id,
        _CREDENTIAL.status,
        _CREDENTIAL.suspended,
        _CREDENTIAL.expires_at,
        _CREDENTIAL.device_jwk,
        Person.__table__.c.subject_id,
        NetworkIdentity.__table__.c.status,
    ],
)


class EnrolmentRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, obj: object) -> None:
        self._session.add(obj)
        self._session.flush()

    def flush(self) -> None:
        self._session.flush()

    # -- network identities -------------------------------------------------------------------
    def identity(self, person_id: str, *, for_update: bool = False) -> NetworkIdentity | None:
        stmt = select(NetworkIdentity).where(NetworkIdentity.person_id == person_id)
        if for_update:
            stmt = stmt.with_for_update()
        return self._session.scalars(stmt).first()

    def sealed_identity(self, person_id: str) -> SealedIdentityRow | None:
        return _SEALED_IDENTITY.first(self._session.connection(), (person_id,))

    def lock_person(self, person_id: str) -> None:
        """Hold the registry row of the person until the transaction ends (PostgreSQL; SQLite
        writers are serialised already): two completions for one person take turns, so the
        second sees the network identity the first created instead of inserting a duplicate."""
        self._session.execute(select(Person.id).where(Person.id == person_id).with_for_update())

    def net_id_taken(self, net_id: str) -> bool:
        stmt = select(NetworkIdentity.person_id).where(NetworkIdentity.net_id == net_id)
        return self._session.scalars(stmt).first() is not None

    def subject_id_of(self, person_id: str) -> str | None:
        return self._session.scalars(
            select(Person.subject_id).where(Person.id == person_id)
        ).first()

    # -- enrolments -----------------------------------------------------------------------------
    def enrolment_by_secret(self, secret_hash: bytes) -> Enrolment | None:
        stmt = select(Enrolment).where(Enrolment.secret_hash == secret_hash).with_for_update()
        return self._session.scalars(stmt).first()

    def enrolment(self, enrolment_id: str) -> Enrolment | None:
        stmt = select(Enrolment).where(Enrolment.id == enrolment_id).with_for_update()
        return self._session.scalars(stmt).first()

    def enrolments_awaiting(self, ward_ids: Sequence[str], now: dt.datetime) -> Sequence[Enrolment]:
        if not ward_ids:
            return []
        stmt = (
            select(Enrolment)
            .where(
                Enrolment.person_id.in_(ward_ids),
                Enrolment.state == "awaiting_guardian",
                Enrolment.expires_at > now,
            )
            .order_by(Enrolment.created_at)
        )
        return self._session.scalars(stmt).all()

    def open_enrolments_of(self, person_id: str) -> Sequence[Enrolment]:
        stmt = select(Enrolment).where(
            Enrolment.person_id == person_id,
            Enrolment.state.not_in(("completed", "denied", "failed")),
        )
        return self._session.scalars(stmt).all()

    # -- guardians (registry links, read here: ids only) --------------------------------------
    def guardian_ids_of(self, ward_id: str) -> set[str]:
        stmt = select(GuardianLink.guardian_id).where(GuardianLink.ward_id == ward_id)
        return set(self._session.scalars(stmt).all())

    def ward_ids_of(self, guardian_id: str) -> list[str]:
        stmt = select(GuardianLink.ward_id).where(GuardianLink.guardian_id == guardian_id)
        return list(self._session.scalars(stmt).all())

    # -- credentials ----------------------------------------------------------------------------
    def qr_credential(self, credential_id: str) -> QrCredentialRow | None:
        return _QR_CREDENTIAL.first(self._session.connection(), (credential_id,))

    def credential(self, credential_id: str, *, for_update: bool = False) -> Credential | None:
        stmt = select(Credential).where(Credential.id == credential_id)
        if for_update:
            stmt = stmt.with_for_update()
        return self._session.scalars(stmt).first()

    def active_credentials_of(self, person_id: str) -> Sequence[Credential]:
        stmt = (
            select(Credential)
            .where(Credential.person_id == person_id, Credential.status == "active")
            .with_for_update()
        )
        return self._session.scalars(stmt).all()

    def credentials_of(self, person_id: str) -> Sequence[Credential]:
        stmt = select(Credential).where(Credential.person_id == person_id)
        return self._session.scalars(stmt.order_by(Credential.created_at)).all()

    # -- status lists ---------------------------------------------------------------------------
    def open_status_list(self, size: int) -> StatusList | None:
        """The newest list with room, locked (allocation is serialised per list)."""
        stmt = (
            select(StatusList)
            .where(StatusList.allocated < size)
            .order_by(StatusList.created_at.desc(), StatusList.id)
            .limit(1)
            .with_for_update()
        )
        return self._session.scalars(stmt).first()

    def status_list(self, list_id: str) -> StatusList | None:
        return self._session.get(StatusList, list_id)

    def taken_indexes(self, list_id: str, candidates: Iterable[int] | None = None) -> set[int]:
        stmt = select(Credential.status_index).where(Credential.status_list_id == list_id)
        if candidates is not None:
            stmt = stmt.where(Credential.status_index.in_(list(candidates)))
        return set(self._session.scalars(stmt).all())

    def statuses(self, list_id: str) -> Sequence[tuple[int, str, bool]]:
        stmt = select(Credential.status_index, Credential.status, Credential.suspended).where(
            Credential.status_list_id == list_id
        )
        return [(i, s, bool(p)) for i, s, p in self._session.execute(stmt).all()]

    # -- one-time codes -------------------------------------------------------------------------
    def code(self, purpose: str, owner_id: str) -> OneTimeCode | None:
        stmt = (
            select(OneTimeCode)
            .where(OneTimeCode.purpose == purpose, OneTimeCode.owner_id == owner_id)
            .with_for_update()
        )
        return self._session.scalars(stmt).first()

    # -- device proofs --------------------------------------------------------------------------
    def proof_used(self, thumbprint: str, jti: str) -> bool:
        return self._session.get(DeviceProofUse, (thumbprint, jti)) is not None

    def spend_proof(self, thumbprint: str, jti: str, expires_at: dt.datetime) -> bool:
        """Insert the proof's (thumbprint, jti) in a savepoint: True if it was new, False if
        another transaction spent it first (on PostgreSQL the insert waits for that one to
        commit, then hits the primary key); the savepoint rolls back alone, so the caller goes
        on to record the refusal."""
        try:
            with self._session.begin_nested():
                self._session.add(
                    DeviceProofUse(thumbprint=thumbprint, jti=jti, expires_at=expires_at)
                )
                self._session.flush()
        except IntegrityError:
            return False
        return True

    def purge_proofs(self, before: dt.datetime) -> int:
        result = self._session.execute(
            delete(DeviceProofUse).where(DeviceProofUse.expires_at < before)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    # -- faces ------------------------------------------------------------------------------------
    def collected_face(self, person_id: str) -> CollectedFace | None:
        return self._session.get(CollectedFace, person_id)

    # -- erasure ----------------------------------------------------------------------------------
    def unsafe_erase_account_rows(self, person_id: str) -> None:
        """Delete what an account holds beyond its network ID: the collected face, pending
        codes and enrolments' sealed values, device keys and PIN hashes of credentials."""
        self._session.execute(delete(CollectedFace).where(CollectedFace.person_id == person_id))
        self._session.execute(delete(OneTimeCode).where(OneTimeCode.person_id == person_id))
        self._session.execute(
            update(Credential)
            .where(Credential.person_id == person_id)
            .values(pin_hash=None, device_jwk="{}", device_thumbprint="")
        )
        self._session.execute(
            update(Enrolment)
            .where(Enrolment.person_id == person_id)
            .values(
                phone_sealed=b"",
                document_sealed=b"",
                face_sealed=None,
                device_jwk="{}",
                device_thumbprint="",
            )
        )
        self._session.flush()

    # -- key rotation (resumable batches: rows not yet under the active key) --------------------
    def identities_not_wrapped_by(self, data_key_id: str, limit: int) -> Sequence[NetworkIdentity]:
        stmt = (
            select(NetworkIdentity)
            .where(
                NetworkIdentity.data_key_id.is_not(None),
                NetworkIdentity.data_key_id != data_key_id,
            )
            .order_by(NetworkIdentity.person_id)
            .limit(limit)
            .with_for_update()
        )
        return self._session.scalars(stmt).all()

    def enrolments_not_sealed_by(
        self, data_key_id: str, face_key_id: str, limit: int
    ) -> Sequence[Enrolment]:
        """Enrolments with a phone or document not under the data key ``data_key_id``, or a
        live face template not under the face key ``face_key_id``."""
        stmt = (
            select(Enrolment)
            .where(
                or_(
                    _sealed_by_other(Enrolment.phone_sealed, data_key_id),
                    _sealed_by_other(Enrolment.document_sealed, data_key_id),
                    _sealed_by_other(Enrolment.face_sealed, face_key_id),
                )
            )
            .order_by(Enrolment.id)
            .limit(limit)
            .with_for_update()
        )
        return self._session.scalars(stmt).all()

    def collected_faces_not_sealed_by(
        self, face_key_id: str, limit: int
    ) -> Sequence[CollectedFace]:
        stmt = (
            select(CollectedFace)
            .where(CollectedFace.face_key_id != face_key_id)
            .order_by(CollectedFace.person_id)
            .limit(limit)
            .with_for_update()
        )
        return self._session.scalars(stmt).all()

    def references_to_key(self, key_id: str, now: dt.datetime) -> int:
        """Rows that still need ``key_id``: account keys it wraps, enrolment values and face
        templates it seals, one-time codes MACed with it that could still be used, and live
        credentials it signed."""
        conditions = (
            NetworkIdentity.data_key_id == key_id,
            or_(
                _sealed_by(Enrolment.phone_sealed, key_id),
                _sealed_by(Enrolment.document_sealed, key_id),
                _sealed_by(Enrolment.face_sealed, key_id),
            ),
            CollectedFace.face_key_id == key_id,
            and_(
                OneTimeCode.mac_key_id == key_id,
                OneTimeCode.used_at.is_(None),
                OneTimeCode.expires_at >= now,
            ),
            and_(
                Credential.signing_key_id == key_id,
                Credential.status == "active",
                Credential.expires_at > now,
            ),
        )
        return sum(
            int(self._session.scalar(select(func.count()).where(condition)) or 0)
            for condition in conditions
        )

    def count_credentials(self) -> int:
        return int(self._session.scalar(select(func.count()).select_from(Credential)) or 0)
