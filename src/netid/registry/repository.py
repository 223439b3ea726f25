"""Queries of the registry. Bulk paths use Core statements (executemany), not ORM units."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.orm import Session

from netid.db.base import UtcDateTime
from netid.keys.models import KeyRecord
from netid.registry.models import (
    Document,
    FaceTemplate,
    GuardianLink,
    Person,
    PersonKey,
    PersonMarker,
)

# Keep IN lists well under SQLite's and PostgreSQL's bound-parameter limits.
_IN_CHUNK = 900


def _table(model: type[object]) -> Table:
    table = getattr(model, "__table__")  # noqa: B009 - mapped classes are typed loosely
    assert isinstance(table, Table)
    return table


BULK_COLUMNS: dict[str, tuple[str, ...]] = {
    "person": (
        "id",
        "subject_id",
        "name_sealed",
        "attributes_sealed",
        "phones_sealed",
        "created_at",
        "updated_at",
    ),
    "person_key": ("person_id", "key_id", "wrapped", "data_key_id"),
    "document": (
        "id",
        "person_id",
        "type_code",
        "number_index",
        "index_key_id",
        "data_sealed",
        "status",
        "created_at",
        "updated_at",
    ),
    "guardian_link": ("id", "ward_id", "guardian_id", "relation_sealed", "created_at"),
}


def _bind_timestamps(
    rows: Sequence[tuple[Any, ...]], columns: list[tuple[int, Any]]
) -> list[tuple[Any, ...]]:
    """Run the timestamp columns through their bind processors, once per distinct value (a
    batch shares one ``now``)."""
    memo: dict[Any, Any] = {}
    converted = []
    for row in rows:
        values = list(row)
        for i, process in columns:
            value = values[i]
            if value not in memo:
                memo[value] = process(value) if process else value
            values[i] = memo[value]
        converted.append(tuple(values))
    return converted


def _chunks(items: Sequence[Any], size: int = _IN_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class RegistryRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    # -- bulk import -----------------------------------------------------------------------
    def person_ids_by_index(self, indexes: Sequence[bytes]) -> dict[bytes, str]:
        found: dict[bytes, str] = {}
        for chunk in _chunks(list(indexes)):
            rows = self._session.execute(
                select(Document.number_index, Document.person_id).where(
                    Document.number_index.in_(chunk)
                )
            )
            found.update({bytes(idx): pid for idx, pid in rows})
        return found

    def insert_rows(
        self,
        *,
        people: Sequence[tuple[Any, ...]],
        person_keys: Sequence[tuple[Any, ...]],
        documents: Sequence[tuple[Any, ...]],
        links: Sequence[tuple[Any, ...]],
    ) -> None:
        """Bulk insert, rows as tuples in the column order of ``BULK_COLUMNS``.

        Straight to the driver's ``executemany``: SQLAlchemy's per-row parameter processing
        costs more than the insert itself at import rates. Values are bound through each
        column type's own bind processor, so they are stored exactly as the ORM stores them.
        """
        conn = self._session.connection()
        for model, rows in (
            (Person, people),
            (PersonKey, person_keys),
            (Document, documents),
            (GuardianLink, links),
        ):
            if not rows:
                continue
            table = _table(model)
            columns = BULK_COLUMNS[table.name]
            dialect = conn.dialect
            mark = "?" if dialect.paramstyle == "qmark" else "%s"
            sql = (
                f"INSERT INTO {table.name} ({', '.join(columns)}) "  # noqa: S608 - constant names
                f"VALUES ({', '.join(mark for _ in columns)})"
            )
            # Bytes and str go to the driver as they are; timestamps through their column
            # type (UTC, the dialect's storage format), once per distinct value.
            timestamp_columns = [
                (i, table.c[name].type.bind_processor(dialect))
                for i, name in enumerate(columns)
                if isinstance(table.c[name].type, UtcDateTime)
            ]
            if timestamp_columns:
                rows = _bind_timestamps(rows, timestamp_columns)
            conn.exec_driver_sql(sql, list(rows))

    def current_key_ids(
        self, data_purpose: str, index_purpose: str
    ) -> tuple[str | None, tuple[str, ...]]:
        """(active data key id, live blind-index key ids active first) as the database has
        them now — not as some process cached them."""
        rows = self._session.execute(
            select(KeyRecord.key_id, KeyRecord.purpose, KeyRecord.state).where(
                KeyRecord.purpose.in_((data_purpose, index_purpose)),
                KeyRecord.state != "retired",
            )
        ).all()
        data = next((k for k, p, st in rows if p == data_purpose and st == "active"), None)
        index = sorted((st != "active", k) for k, p, st in rows if p == index_purpose)
        return data, tuple(k for _, k in index)

    # -- look-ups ---------------------------------------------------------------------------
    def document_by_indexes(self, indexes: Sequence[bytes]) -> Document | None:
        return self._session.scalars(
            select(Document).where(Document.number_index.in_(list(indexes))).limit(1)
        ).first()

    def person(self, person_id: str) -> Person | None:
        return self._session.get(Person, person_id)

    def person_key(self, person_id: str) -> PersonKey | None:
        return self._session.get(PersonKey, person_id)

    def documents_of(self, person_id: str) -> Sequence[Document]:
        return self._session.scalars(
            select(Document).where(Document.person_id == person_id).order_by(Document.id)
        ).all()

    def guardian_links_of(self, ward_id: str) -> Sequence[GuardianLink]:
        return self._session.scalars(
            select(GuardianLink).where(GuardianLink.ward_id == ward_id).order_by(GuardianLink.id)
        ).all()

    def people_after(self, after_id: str, limit: int) -> Sequence[Person]:
        return self._session.scalars(
            select(Person).where(Person.id > after_id).order_by(Person.id).limit(limit)
        ).all()

    def count_people(self) -> int:
        return int(self._session.scalar(select(func.count()).select_from(Person)) or 0)

    def documents_by_person(self, person_ids: Sequence[str]) -> dict[str, list[Document]]:
        result: dict[str, list[Document]] = {pid: [] for pid in person_ids}
        for chunk in _chunks(list(person_ids)):
            for doc in self._session.scalars(
                select(Document).where(Document.person_id.in_(chunk)).order_by(Document.id)
            ):
                result[doc.person_id].append(doc)
        return result

    def keys_by_person(self, person_ids: Sequence[str]) -> dict[str, PersonKey]:
        result: dict[str, PersonKey] = {}
        for chunk in _chunks(list(person_ids)):
            for key in self._session.scalars(
                select(PersonKey).where(PersonKey.person_id.in_(chunk))
            ):
                result[key.person_id] = key
        return result

    def guardian_links_by_ward(self, ward_ids: Sequence[str]) -> dict[str, list[GuardianLink]]:
        result: dict[str, list[GuardianLink]] = {}
        for chunk in _chunks(list(ward_ids)):
            for link in self._session.scalars(
                select(GuardianLink)
                .where(GuardianLink.ward_id.in_(chunk))
                .order_by(GuardianLink.id)
            ):
                result.setdefault(link.ward_id, []).append(link)
        return result

    # -- key rotation -----------------------------------------------------------------------
    def person_keys_not_wrapped_by(self, data_key_id: str, limit: int) -> Sequence[PersonKey]:
        return self._session.scalars(
            select(PersonKey)
            .where(PersonKey.data_key_id != data_key_id)
            .order_by(PersonKey.person_id)
            .limit(limit)
        ).all()

    def documents_not_indexed_by(self, index_key_id: str, limit: int) -> Sequence[Document]:
        return self._session.scalars(
            select(Document)
            .where(Document.index_key_id != index_key_id)
            .order_by(Document.id)
            .limit(limit)
        ).all()

    def faces_not_sealed_by(self, face_key_id: str, limit: int) -> Sequence[FaceTemplate]:
        return self._session.scalars(
            select(FaceTemplate)
            .where(FaceTemplate.face_key_id != face_key_id)
            .order_by(FaceTemplate.person_id)
            .limit(limit)
        ).all()

    def references_to_key(self, key_id: str) -> int:
        total = 0
        for column in (
            PersonKey.data_key_id,
            Document.index_key_id,
            FaceTemplate.face_key_id,
        ):
            total += int(self._session.scalar(select(func.count()).where(column == key_id)) or 0)
        return total

    def update_person_key(self, person_id: str, wrapped: bytes, data_key_id: str) -> None:
        self._session.execute(
            update(PersonKey)
            .where(PersonKey.person_id == person_id)
            .values(wrapped=wrapped, data_key_id=data_key_id)
        )

    def unsafe_delete_person_data(self, person_id: str) -> None:
        session = self._session
        session.execute(
            delete(GuardianLink).where(
                (GuardianLink.ward_id == person_id) | (GuardianLink.guardian_id == person_id)
            )
        )
        session.execute(delete(Document).where(Document.person_id == person_id))
        session.execute(delete(FaceTemplate).where(FaceTemplate.person_id == person_id))
        session.execute(delete(PersonMarker).where(PersonMarker.person_id == person_id))
        session.execute(delete(PersonKey).where(PersonKey.person_id == person_id))

    def markers_of(self, person_id: str) -> Sequence[str]:
        return self._session.scalars(
            select(PersonMarker.marker).where(PersonMarker.person_id == person_id)
        ).all()

    def marker(self, person_id: str, marker: str) -> PersonMarker | None:
        return self._session.get(PersonMarker, (person_id, marker))

    def delete_marker(self, person_id: str, marker: str) -> bool:
        row = self.marker(person_id, marker)
        if row is None:
            return False
        self._session.delete(row)
        self._session.flush()
        return True

    def face_template(self, person_id: str) -> FaceTemplate | None:
        return self._session.get(FaceTemplate, person_id)

    def add(self, obj: object) -> None:
        self._session.add(obj)
        self._session.flush()

    def flush(self) -> None:
        self._session.flush()
