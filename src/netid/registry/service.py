"""Registry use cases: bulk import, masked look-up, export, key rotation work, shredding.

Services flush and never commit: the CLI command or request that calls them owns the
transaction (and the bulk importer commits once per batch through the unit of work it is
given). Every read of personal data records an access entry in that same transaction.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

from netid.audit.service import AccessRecorder
from netid.core.clock import Clock, today_in_china
from netid.core.ids import new_row_id
from netid.core.masking import mask_document_number, mask_name, mask_phone
from netid.crypto.errors import SealedValueInvalid
from netid.crypto.sealing import SealKey, new_key_id, open_sealed, seal
from netid.crypto.sm3 import hmac_sm3
from netid.documents import DocumentType, parse_document_number
from netid.documents.chip import ChipData
from netid.keys.schemas import KeyPurpose
from netid.keys.service import Keyring
from netid.registry.errors import InvalidMarker, KeysChanged, PersonNotFound
from netid.registry.models import Document, FaceTemplate, Person, PersonKey, PersonMarker
from netid.registry.repository import DocumentRow, PersonKeyRow, RegistryRepository
from netid.registry.schemas import DocumentData, GuardianRef, PersonData, document_record

PERSON_KEY_LENGTH = 16
MARKERS = frozenset({"disputed", "fraud_warning"})


def document_index(secret: bytes, doc_type: DocumentType, normalized: str) -> bytes:
    """Blind index: HMAC-SM3(key, type_code ":" normalized) (DESIGN.md "Blind index")."""
    return hmac_sm3(secret, f"{doc_type.code}:{normalized}".encode("ascii"))


@dataclass(frozen=True)
class Rejection:
    line: int
    field: str
    rule: str
    message: str


@dataclass
class BatchOutcome:
    imported: int = 0
    duplicates: int = 0
    rejections: list[Rejection] = field(default_factory=list)


@dataclass(frozen=True)
class MaskedDocument:
    type: str
    number: str
    status: str


@dataclass(frozen=True)
class MaskedPerson:
    name: str
    sex: str
    status: str
    nationality: str
    documents: tuple[MaskedDocument, ...]
    phones: tuple[str, ...]
    guardians: int

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sex": self.sex,
            "status": self.status,
            "nationality": self.nationality,
            "documents": [d.__dict__ for d in self.documents],
            "phones": list(self.phones),
            "guardians": self.guardians,
        }


@dataclass(frozen=True)
class VerificationSubject:
    """What a verification compares against: the holder of one document, opened."""

    person_id: str
    subject_id: str
    key: SealKey = field(repr=False)
    name: str = field(repr=False)
    birth_date: dt.date = field(repr=False)
    sex: str = field(repr=False)
    nationality: str = field(repr=False)
    status: str
    document: DocumentData = field(repr=False)
    phones: tuple[str, ...] = field(repr=False)
    markers: frozenset[str]


@dataclass(frozen=True)
class ImportKeys:
    """The key material that preparing an import needs (and nothing else): it may be handed
    to worker processes of the importer."""

    data_key: SealKey
    index_key_ids: tuple[str, ...]  # every live blind-index key, the active one first
    index_secrets: tuple[bytes, ...] = field(repr=False)

    @property
    def index_key_id(self) -> str:
        return self.index_key_ids[0]

    @classmethod
    def from_keyring(cls, keyring: Keyring) -> ImportKeys:
        index_keys = keyring.all_of(KeyPurpose.BLIND_INDEX)
        return cls(
            data_key=keyring.active_seal_key(KeyPurpose.DATA),
            index_key_ids=tuple(k.key_id for k in index_keys),
            index_secrets=tuple(k.secret for k in index_keys),
        )


class PreparedPerson(NamedTuple):
    """One person sealed and indexed, ready to insert (rows as tuples in the column order of
    :data:`netid.registry.repository.BULK_COLUMNS`, without the timestamp columns: the batch
    is stamped when it is stored).

    A NamedTuple of bytes and str only, not a dataclass and no datetimes: batches of these
    cross from the worker processes, and pickling a tuple is half the cost of a dataclass, a
    timezone-aware datetime per row four times the cost of everything else."""

    line: int
    person_id: str
    doc_indexes: tuple[tuple[bytes, ...], ...]  # per document, under every live index key
    guardian_indexes: tuple[tuple[bytes, ...], ...]
    person_row: tuple[Any, ...]
    key_row: tuple[Any, ...]
    document_rows: tuple[tuple[Any, ...], ...]
    link_rows: tuple[tuple[str, bytes], ...]  # (link id, sealed relation); guardian id later


def wrap_person_key(data_key: SealKey, person_key: SealKey, person_id: str) -> bytes:
    # The person key's id is bound in the row id so a wrapped key cannot be relabelled.
    return seal(
        data_key,
        person_key.secret,
        table="person_key",
        column="wrapped",
        row_id=f"{person_id}/{person_key.key_id}",
    )


def seal_document(person_key: SealKey, doc: DocumentData, doc_id: str) -> bytes:
    """Seal the document record. Type and status are in the sealed payload as well as in
    their plaintext columns, so an edit of those columns is detected when the row is opened."""
    payload = document_record(doc)
    payload["type"] = doc.type.code
    return seal(person_key, orjson.dumps(payload), table="document", column="data", row_id=doc_id)


def prepare_person(
    line: int, person: PersonData, keys: ImportKeys, *, person_id: str | None = None
) -> PreparedPerson:
    """Give the person new ids and a new person key, seal every field, compute the blind
    indexes. Pure (no I/O), so the importer can run it in worker processes.

    The import's inner loop (a million calls a run): no closures or intermediate objects
    beyond the rows themselves; sealing is most of what remains."""
    person_id = person_id or new_row_id()
    person_key = SealKey(new_key_id(), os.urandom(PERSON_KEY_LENGTH))
    secrets_ = keys.index_secrets
    index_key_id = keys.index_key_id
    doc_indexes = []
    document_rows = []
    for doc in person.documents:
        idx = tuple(document_index(secret, doc.type, doc.number) for secret in secrets_)
        doc_indexes.append(idx)
        doc_id = new_row_id()
        sealed_doc = seal_document(person_key, doc, doc_id)
        document_rows.append(
            (doc_id, person_id, doc.type.code, idx[0], index_key_id, sealed_doc, doc.status)
        )
    link_rows = []
    guardian_indexes = []
    for guardian in person.guardians:
        link_id = new_row_id()
        relation = seal(
            person_key,
            guardian.relation.encode(),
            table="guardian_link",
            column="relation",
            row_id=link_id,
        )
        link_rows.append((link_id, relation))
        guardian_indexes.append(
            tuple(
                document_index(secret, guardian.document_type, guardian.document_number)
                for secret in secrets_
            )
        )
    person_row = (
        person_id,
        secrets.token_hex(16),
        seal(person_key, person.name.encode(), table="person", column="name", row_id=person_id),
        seal(
            person_key,
            orjson.dumps(person.attributes_json()),
            table="person",
            column="attributes",
            row_id=person_id,
        ),
        seal(
            person_key,
            orjson.dumps(person.phones),  # a tuple dumps as the JSON array
            table="person",
            column="phones",
            row_id=person_id,
        ),
    )
    key_row = (
        person_id,
        person_key.key_id,
        wrap_person_key(keys.data_key, person_key, person_id),
        keys.data_key.key_id,
    )
    return PreparedPerson(
        line,
        person_id,
        tuple(doc_indexes),
        tuple(guardian_indexes),
        person_row,
        key_row,
        tuple(document_rows),
        tuple(link_rows),
    )


def _first_repeat(prepared: PreparedPerson, in_batch: dict[bytes, str]) -> Rejection | None:
    seen: set[bytes] = set()
    for d_no, idx in enumerate(prepared.doc_indexes):
        if idx[0] in in_batch or idx[0] in seen:
            return Rejection(
                prepared.line,
                f"documents[{d_no}].number",
                "duplicate",
                "This document number appears more than once in the file.",
            )
        seen.add(idx[0])
    return None


class RegistryService:
    def __init__(
        self,
        *,
        repository: RegistryRepository,
        keyring: Keyring,
        recorder: AccessRecorder,
        clock: Clock,
    ) -> None:
        self._repo = repository
        self._keyring = keyring
        self._recorder = recorder
        self._clock = clock

    # -- indexes ----------------------------------------------------------------------------
    def _index_secrets(self) -> list[bytes]:
        return [k.secret for k in self._keyring.all_of(KeyPurpose.BLIND_INDEX)]

    def _indexes(self, doc_type: DocumentType, normalized: str) -> list[bytes]:
        """Under every live blind-index key (active first): rotation keeps look-ups working."""
        return [document_index(s, doc_type, normalized) for s in self._index_secrets()]

    # -- import -----------------------------------------------------------------------------
    def import_keys(self) -> ImportKeys:
        return ImportKeys.from_keyring(self._keyring)

    def import_batch(self, rows: Sequence[tuple[int, PersonData]], *, actor: str) -> BatchOutcome:
        """Seal and insert the rows not yet in the registry (re-running inserts nothing)."""
        keys = self.import_keys()
        return self.store_prepared(
            [prepare_person(line, p, keys) for line, p in rows], actor=actor, keys=keys
        )

    def store_prepared(
        self,
        batch: Sequence[PreparedPerson],
        *,
        actor: str,
        keys: ImportKeys,
        now: dt.datetime | None = None,
    ) -> BatchOutcome:
        """Insert prepared people: skip those already present, resolve guardians, reject
        repeats and conflicts. One statement per table for the whole batch, every row stamped
        ``now`` (default: the clock's).

        ``keys`` are those the batch was prepared with; if a rotation changed the keyring
        since (in this transaction's view), nothing is written: the import must restart.
        """
        self._require_keys_unchanged(keys)
        outcome = BatchOutcome()
        lookup = [i for p in batch for idx in (*p.doc_indexes, *p.guardian_indexes) for i in idx]
        existing = self._repo.person_ids_by_index(lookup)
        in_batch: dict[bytes, str] = {}
        people: list[tuple[Any, ...]] = []
        key_rows: list[tuple[Any, ...]] = []
        documents: list[tuple[Any, ...]] = []
        links: list[tuple[Any, ...]] = []
        for prepared in batch:
            holders = [
                next((existing[i] for i in idx if i in existing), None)
                for idx in prepared.doc_indexes
            ]
            if any(holders):
                if None not in holders and len(set(holders)) == 1:
                    outcome.duplicates += 1  # this very person is already registered
                else:
                    outcome.rejections.append(
                        Rejection(
                            prepared.line,
                            "documents",
                            "conflict",
                            "Some of these documents are already registered to someone else "
                            "or without the others; correct the registry record instead.",
                        )
                    )
                continue
            rejection = _first_repeat(prepared, in_batch)
            guardian_ids: list[str] = []
            if rejection is None:
                for g_no, idx in enumerate(prepared.guardian_indexes):
                    found = next(
                        (pid for i in idx if (pid := existing.get(i) or in_batch.get(i))), None
                    )
                    if found is None:
                        rejection = Rejection(
                            prepared.line,
                            f"guardians[{g_no}].document_number",
                            "guardian_unknown",
                            "The guardian is not in the registry (guardians must come first).",
                        )
                        break
                    if found in guardian_ids:
                        rejection = Rejection(
                            prepared.line,
                            f"guardians[{g_no}].document_number",
                            "duplicate",
                            "The same guardian is named twice.",
                        )
                        break
                    guardian_ids.append(found)
            if rejection is not None:
                outcome.rejections.append(rejection)
                continue
            for idx in prepared.doc_indexes:
                in_batch[idx[0]] = prepared.person_id
            people.append(prepared.person_row)
            key_rows.append(prepared.key_row)
            documents.extend(prepared.document_rows)
            links.extend(
                (link_id, prepared.person_id, guardian_id, relation)
                for (link_id, relation), guardian_id in zip(
                    prepared.link_rows, guardian_ids, strict=True
                )
            )
            outcome.imported += 1
        self._repo.insert_rows(
            people=people,
            person_keys=key_rows,
            documents=documents,
            links=links,
            now=now or self._clock.now(),
        )
        self._recorder.record(
            actor=actor,
            action="registry.import",
            outcome="ok",
            details={
                "imported": outcome.imported,
                "duplicates": outcome.duplicates,
                "rejected": len(outcome.rejections),
            },
        )
        return outcome

    def _require_keys_unchanged(self, keys: ImportKeys) -> None:
        active_data, live_index = self._repo.current_key_ids(
            KeyPurpose.DATA.value, KeyPurpose.BLIND_INDEX.value
        )
        if active_data != keys.data_key.key_id or live_index != keys.index_key_ids:
            raise KeysChanged()

    # -- opening ----------------------------------------------------------------------------
    def _person_key(self, row: PersonKey | PersonKeyRow) -> SealKey:
        data_key = self._keyring.seal_key(row.data_key_id)
        secret = open_sealed(
            {data_key.key_id: data_key},
            row.wrapped,
            table="person_key",
            column="wrapped",
            row_id=f"{row.person_id}/{row.key_id}",
        )
        return SealKey(row.key_id, secret)

    @staticmethod
    def _open(key: SealKey, sealed: bytes, table: str, column: str, row_id: str) -> bytes:
        return open_sealed({key.key_id: key}, sealed, table=table, column=column, row_id=row_id)

    def _open_document(self, key: SealKey, doc: Document | DocumentRow) -> DocumentData:
        payload = orjson.loads(self._open(key, doc.data_sealed, "document", "data", doc.id))
        if payload["status"] != doc.status or payload["type"] != doc.type_code:
            raise SealedValueInvalid("A document row was altered outside the service.")
        doc_type = next(t for t in DocumentType if t.code == doc.type_code)
        return DocumentData(
            number=payload["number"],
            type=doc_type,
            status=doc.status,
            issued_on=dt.date.fromisoformat(payload["issued_on"]) if payload["issued_on"] else None,
            expires_on=(
                dt.date.fromisoformat(payload["expires_on"]) if payload["expires_on"] else None
            ),
        )

    def _open_person(
        self,
        person: Person,
        key: SealKey,
        documents: Sequence[Document],
        guardians: tuple[GuardianRef, ...] = (),
    ) -> PersonData:
        attrs = orjson.loads(
            self._open(key, person.attributes_sealed, "person", "attributes", person.id)
        )
        return PersonData(
            name=self._open(key, person.name_sealed, "person", "name", person.id).decode(),
            sex=attrs["sex"],
            birth_date=dt.date.fromisoformat(attrs["birth_date"]),
            nationality=attrs["nationality"],
            ethnicity=attrs["ethnicity"],
            region_code=attrs["region_code"],
            status=attrs["status"],
            death_date=dt.date.fromisoformat(attrs["death_date"]) if attrs["death_date"] else None,
            phones=tuple(
                orjson.loads(self._open(key, person.phones_sealed, "person", "phones", person.id))
            ),
            documents=tuple(self._open_document(key, d) for d in documents),
            guardians=guardians,
        )

    def _document_by_number(self, number: str) -> Document | None:
        """Blind-index look-up of a number as typed; raises InvalidDocumentNumber if it is
        not a valid number of any type (nothing is looked up then)."""
        return self._repo.document_by_indexes(self._indexes_of_number(number))

    def _indexes_of_number(self, number: str) -> Sequence[bytes]:
        """The blind indexes to look ``number`` up under (InvalidDocumentNumber if it is not a
        valid number of any type)."""
        check = parse_document_number(number, today=today_in_china(self._clock))
        assert check.type is not None  # valid
        assert check.normalized is not None
        return self._indexes(check.type, check.normalized)

    def _locate(self, number: str) -> tuple[Person, SealKey] | None:
        doc = self._document_by_number(number)
        if doc is None:
            return None
        person = self._repo.person(doc.person_id)
        key_row = self._repo.person_key(doc.person_id)
        if person is None or key_row is None:
            return None
        return person, self._person_key(key_row)

    # -- verification ------------------------------------------------------------------------
    def unsafe_open_subject(
        self, number: str, *, with_phones: bool = False
    ) -> VerificationSubject | None:
        """Open the holder of ``number`` for a comparison WITHOUT recording the access: the
        caller (the verification service) records it, with its receipt, in the same
        transaction. Opens the name, the attributes and the matched document; the phones only
        when asked. Raises InvalidDocumentNumber for a number of no known format."""
        doc = self._repo.document_row_by_indexes(self._indexes_of_number(number))
        if doc is None:
            return None
        return self._open_subject(doc, with_phones=with_phones)

    def unsafe_open_person_subject(
        self, person_id: str, *, document_type: DocumentType | None = None
    ) -> VerificationSubject | None:
        """Open a person known by id (a network credential names them, not a number) WITHOUT
        recording the access — the caller records it with its receipt. The document is the
        valid one of ``document_type`` if given, else the first valid one, else the first."""
        docs = self._repo.documents_of(person_id)
        if not docs:
            return None
        ranked = sorted(
            docs,
            key=lambda d: (
                document_type is not None and d.type_code != document_type.code,
                d.status != "valid",
            ),
        )
        return self._open_subject(ranked[0], with_phones=False)

    def _open_subject(
        self, doc: Document | DocumentRow, *, with_phones: bool
    ) -> VerificationSubject | None:
        person = self._repo.person_row(doc.person_id)
        key_row = self._repo.person_key_row(doc.person_id)
        if person is None or key_row is None:  # crypto-shredded
            return None
        key = self._person_key(key_row)
        attrs = orjson.loads(
            self._open(key, person.attributes_sealed, "person", "attributes", person.id)
        )
        phones: tuple[str, ...] = ()
        if with_phones:
            phones = tuple(
                orjson.loads(self._open(key, person.phones_sealed, "person", "phones", person.id))
            )
        return VerificationSubject(
            person_id=person.id,
            subject_id=person.subject_id,
            key=key,
            name=self._open(key, person.name_sealed, "person", "name", person.id).decode(),
            birth_date=dt.date.fromisoformat(attrs["birth_date"]),
            sex=attrs["sex"],
            nationality=attrs["nationality"],
            status=attrs["status"],
            document=self._open_document(key, doc),
            phones=phones,
            markers=frozenset(self._repo.markers_of(person.id)),
        )

    def person_ref(self, number: str) -> tuple[str, SealKey]:
        """The person id and key of the holder of ``number`` (opens no field)."""
        located = self._locate(number)
        if located is None:
            raise PersonNotFound()
        person, key = located
        return person.id, key

    # -- the simulated document chip (docs/decisions/0005 "Chip") ---------------------------
    def unsafe_chip_data(self, number: str, *, actor: str) -> ChipData | None:
        """What the chip of the document ``number`` holds, in plaintext, for the issuing
        authority to sign (``netid registry chip``); None if nobody holds it. Recorded
        (``registry.chip.export``) either way, so the caller raises only after its commit.
        Any status: a revoked card still has its chip; the platform's enrolment refuses it
        (chip_stale)."""
        doc = self._document_by_number(number)
        person = self._repo.person(doc.person_id) if doc is not None else None
        key_row = self._repo.person_key(doc.person_id) if doc is not None else None
        if doc is None or person is None or key_row is None:  # or crypto-shredded
            self._recorder.record(actor=actor, action="registry.chip.export", outcome="not_found")
            return None
        key = self._person_key(key_row)
        data = self._open_person(person, key, [doc])
        document = data.documents[0]
        self._recorder.record(
            actor=actor,
            action="registry.chip.export",
            outcome="ok",
            subject_key=key,
            subject_id=person.id,
            details={"document_type": document.type.value},
        )
        return ChipData(
            document_type=document.type,
            number=document.number,
            name=data.name,
            birth_date=data.birth_date,
            sex=data.sex,
            nationality=data.nationality,
            issued_on=document.issued_on,
            expires_on=document.expires_on,
        )

    # -- markers ---------------------------------------------------------------------------
    def set_marker(self, number: str, marker: str, *, reason: str, actor: str) -> None:
        """Mark a person ``disputed`` or ``fraud_warning``; every later answer carries it."""
        if marker not in MARKERS:
            raise InvalidMarker()
        person_id, key = self.person_ref(number)
        sealed = seal(
            key,
            reason.encode(),
            table="person_marker",
            column="reason",
            row_id=f"{person_id}/{marker}",
        )
        row = self._repo.marker(person_id, marker)
        if row is None:
            self._repo.add(
                PersonMarker(
                    person_id=person_id,
                    marker=marker,
                    reason_sealed=sealed,
                    set_by=actor,
                    set_at=self._clock.now(),
                )
            )
        else:
            row.reason_sealed, row.set_by, row.set_at = sealed, actor, self._clock.now()
            self._repo.flush()
        self._recorder.record(
            actor=actor,
            action="registry.marker.set",
            outcome="ok",
            subject_key=key,
            subject_id=person_id,
            details={"marker": marker},
        )

    def clear_marker(self, number: str, marker: str, *, actor: str) -> bool:
        if marker not in MARKERS:
            raise InvalidMarker()
        person_id, key = self.person_ref(number)
        cleared = self._repo.delete_marker(person_id, marker)
        self._recorder.record(
            actor=actor,
            action="registry.marker.clear",
            outcome="ok" if cleared else "not_set",
            subject_key=key,
            subject_id=person_id,
            details={"marker": marker},
        )
        return cleared

    # -- look-ups ---------------------------------------------------------------------------
    def find_person_id(self, number: str) -> str | None:
        """Blind-index look-up only: opens nothing, so records nothing."""
        doc = self._document_by_number(number)
        return doc.person_id if doc else None

    def show(self, number: str, *, actor: str, purpose: str | None = None) -> MaskedPerson | None:
        """A masked view of the person holding ``number``; the access is recorded either way."""
        located = self._locate(number)
        if located is None:
            self._recorder.record(
                actor=actor, action="registry.show", outcome="not_found", purpose=purpose
            )
            return None
        person, key = located
        documents = self._repo.documents_of(person.id)
        data = self._open_person(person, key, documents)
        self._recorder.record(
            actor=actor,
            action="registry.show",
            outcome="ok",
            purpose=purpose,
            subject_key=key,
            subject_id=person.id,
        )
        return MaskedPerson(
            name=mask_name(data.name),
            sex=data.sex,
            status=data.status,
            nationality=data.nationality,
            documents=tuple(
                MaskedDocument(d.type.value, mask_document_number(d.number), d.status)
                for d in data.documents
            ),
            phones=tuple(mask_phone(p) for p in data.phones),
            guardians=len(self._repo.guardian_links_of(person.id)),
        )

    def unsafe_export_plaintext(
        self, *, actor: str, batch_size: int = 1000
    ) -> Iterator[PersonData]:
        """Every person in plaintext, guardians first. Recorded as one bulk access."""
        self._recorder.record(actor=actor, action="registry.export", outcome="ok")
        after = ""
        while True:
            people = self._repo.people_after(after, batch_size)
            if not people:
                return
            ids = [p.id for p in people]
            docs = self._repo.documents_by_person(ids)
            keys = self._repo.keys_by_person(ids)
            links = self._repo.guardian_links_by_ward(ids)
            for person in people:
                key_row = keys.get(person.id)
                if key_row is None:  # crypto-shredded: nothing left to export
                    continue
                key = self._person_key(key_row)
                guardians = tuple(
                    self._guardian_ref(key, link.guardian_id, link.relation_sealed, link.id)
                    for link in links.get(person.id, [])
                )
                yield self._open_person(person, key, docs[person.id], guardians)
            after = ids[-1]

    def _guardian_ref(
        self, ward_key: SealKey, guardian_id: str, relation: bytes, link_id: str
    ) -> GuardianRef:
        guardian_key_row = self._repo.person_key(guardian_id)
        guardian_docs = self._repo.documents_of(guardian_id)
        if guardian_key_row is None or not guardian_docs:
            raise LookupError("guardian without key or document")
        first = self._open_document(self._person_key(guardian_key_row), guardian_docs[0])
        return GuardianRef(
            document_number=first.number,
            document_type=first.type,
            relation=self._open(ward_key, relation, "guardian_link", "relation", link_id).decode(),
        )

    def count(self) -> int:
        return self._repo.count_people()

    # -- face templates ---------------------------------------------------------------------
    def _subject_key(self, person_id: str) -> SealKey | None:
        row = self._repo.person_key(person_id)
        return self._person_key(row) if row else None

    def person_key(self, person_id: str) -> SealKey | None:
        """The person's key (it seals their access-record references); None once shredded."""
        return self._subject_key(person_id)

    def store_face_template(
        self, person_id: str, *, model: str, template: bytes, actor: str
    ) -> None:
        """Store (or replace) a face template, never an image, under the face key."""
        face_key = self._keyring.active_seal_key(KeyPurpose.FACE)
        existing = self._repo.face_template(person_id)
        sealed = seal(
            face_key, template, table="face_template", column="template", row_id=person_id
        )
        if existing is None:
            self._repo.add(
                FaceTemplate(
                    person_id=person_id,
                    model=model,
                    template_sealed=sealed,
                    face_key_id=face_key.key_id,
                    created_at=self._clock.now(),
                )
            )
        else:
            existing.model = model
            existing.template_sealed = sealed
            existing.face_key_id = face_key.key_id
            self._repo.flush()
        self._recorder.record(
            actor=actor,
            action="registry.face_template.store",
            outcome="ok",
            subject_key=self._subject_key(person_id),
            subject_id=person_id,
        )

    def load_face_template(self, person_id: str, *, actor: str, purpose: str) -> bytes | None:
        """Open a face template; biometric data, so every read is recorded."""
        row = self._repo.face_template(person_id)
        self._recorder.record(
            actor=actor,
            action="registry.face_template.load",
            outcome="ok" if row else "not_found",
            purpose=purpose,
            subject_key=self._subject_key(person_id),
            subject_id=person_id,
        )
        if row is None:
            return None
        key = self._keyring.seal_key(row.face_key_id)
        return self._open(key, row.template_sealed, "face_template", "template", person_id)

    # -- key rotation work (resumable: each call handles one batch; 0 means done) ----------
    def _record_rotation_batch(self, action: str, count: int, actor: str) -> None:
        if count:
            self._recorder.record(actor=actor, action=action, outcome="ok", details={"rows": count})

    def rewrap_person_keys(self, *, batch_size: int, actor: str) -> int:
        active = self._keyring.active_seal_key(KeyPurpose.DATA)
        rows = self._repo.person_keys_not_wrapped_by(active.key_id, batch_size)
        self._record_rotation_batch("keys.rewrap_person_keys", len(rows), actor)
        for row in rows:
            person_key = self._person_key(row)
            self._repo.update_person_key(
                row.person_id,
                wrap_person_key(active, person_key, row.person_id),
                active.key_id,
            )
        return len(rows)

    def rebuild_blind_index(self, *, batch_size: int, actor: str) -> int:
        """Re-index under the active key; opens document numbers, so each batch is recorded."""
        active = self._keyring.active(KeyPurpose.BLIND_INDEX)
        docs = self._repo.documents_not_indexed_by(active.key_id, batch_size)
        self._record_rotation_batch("keys.rebuild_blind_index", len(docs), actor)
        keys = self._repo.keys_by_person([d.person_id for d in docs])
        for doc in docs:
            data = self._open_document(self._person_key(keys[doc.person_id]), doc)
            doc.number_index = document_index(active.secret, data.type, data.number)
            doc.index_key_id = active.key_id
        self._repo.flush()
        return len(docs)

    def reseal_face_templates(self, *, batch_size: int, actor: str) -> int:
        active = self._keyring.active_seal_key(KeyPurpose.FACE)
        rows = self._repo.faces_not_sealed_by(active.key_id, batch_size)
        self._record_rotation_batch("keys.reseal_face_templates", len(rows), actor)
        for row in rows:
            template = self._open(
                self._keyring.seal_key(row.face_key_id),
                row.template_sealed,
                "face_template",
                "template",
                row.person_id,
            )
            row.template_sealed = seal(
                active, template, table="face_template", column="template", row_id=row.person_id
            )
            row.face_key_id = active.key_id
        self._repo.flush()
        return len(rows)

    def references_to_key(self, key_id: str) -> int:
        return self._repo.references_to_key(key_id)

    def unsafe_crypto_shred(self, person_id: str, *, actor: str) -> None:
        """Destroy the person's key, so their sealed fields and the subject references of their
        access records become noise, and remove what still points at them in clear: document
        rows (their blind indexes would still confirm a number was registered), guardian
        links both ways, the face template. The person row stays as an unreadable tombstone."""
        self._repo.unsafe_delete_person_data(person_id)
        self._recorder.record(actor=actor, action="registry.crypto_shred", outcome="ok")
