"""Queries of the registry. Bulk paths use Core statements (executemany), not ORM units."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import (
    Connection,
    Dialect,
    LargeBinary,
    String,
    Table,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

from netid.db.base import UtcDateTime
from netid.db.driver import DriverQuery, R, sqlalchemy_errors
from netid.keys.models import KeyRecord
from netid.registry.models import (
    Document,
    FaceTemplate,
    GuardianLink,
    Person,
    PersonKey,
    PersonMarker,
)

# The verification look-up (one per query): Core statements built once, rows instead of ORM
# objects (the same attribute names).

# Keep IN lists well under SQLite's and PostgreSQL's bound-parameter limits.
_IN_CHUNK = 900


def _table(model: type[object]) -> Table:
    table = getattr(model, "__table__")  # noqa: B009 - mapped classes are typed loosely
    assert isinstance(table, Table)
    return table


class DocumentRow(NamedTuple):
    id: str
    person_id: str
    type_code: str
    data_sealed: bytes
    status: str


class PersonRow(NamedTuple):
    id: str
    subject_id: str
    name_sealed: bytes
    attributes_sealed: bytes
    phones_sealed: bytes


class PersonKeyRow(NamedTuple):
    person_id: str
    key_id: str
    wrapped: bytes
    data_key_id: str


class MarkerRow(NamedTuple):
    marker: str


def _row_query(table: Table, row: type[R], where: str, params: Sequence[str]) -> DriverQuery[R]:
    return DriverQuery(
        f"SELECT {', '.join(row._fields)} FROM {table.name} WHERE {where}",  # noqa: S608
        params=[table.c[name] for name in params],
        returns=row,
        columns=[table.c[name] for name in row._fields],
    )


# The verification look-up (one per query) runs on the driver's cursor (netid.db.driver).
# The number is looked up under every live blind-index key: one statement per count of keys.
_DOCUMENT_BY_INDEXES = {
    n: _row_query(
        _table(Document),
        DocumentRow,
        f"number_index IN ({', '.join('?' for _ in range(n))}) LIMIT 1",
        ["number_index"] * n,
    )
    for n in range(1, 5)
}
_PERSON_BY_ID = _row_query(_table(Person), PersonRow, "id = ?", ["id"])
_PERSON_KEY_BY_ID = _row_query(_table(PersonKey), PersonKeyRow, "person_id = ?", ["person_id"])
_MARKERS_OF = _row_query(_table(PersonMarker), MarkerRow, "person_id = ?", ["person_id"])


# Column order of the rows the importer prepares (service.PreparedPerson) ...
BULK_COLUMNS: dict[str, tuple[str, ...]] = {
    "person": ("id", "subject_id", "name_sealed", "attributes_sealed", "phones_sealed"),
    "person_key": ("person_id", "key_id", "wrapped", "data_key_id"),
    "document": (
        "id",
        "person_id",
        "type_code",
        "number_index",
        "index_key_id",
        "data_sealed",
        "status",
    ),
    "guardian_link": ("id", "ward_id", "guardian_id", "relation_sealed"),
}
# ... followed by these, every row of a batch stamped with the batch's time.
BULK_TIMESTAMPS: dict[str, tuple[str, ...]] = {
    "person": ("created_at", "updated_at"),
    "person_key": (),
    "document": ("created_at", "updated_at"),
    "guardian_link": ("created_at",),
}


def _bind(type_: TypeEngine[Any], dialect: Dialect, value: Any) -> Any:
    """``value`` as the driver gets it for a column of ``type_`` (the dialect's own
    processor, as the ORM applies it: on SQLite the ISO text SQLAlchemy stores)."""
    process = type_.dialect_impl(dialect).bind_processor(dialect)
    return process(value) if process else value


def _copy_type(type_: TypeEngine[Any]) -> str:
    """The PostgreSQL type a binary COPY sends for a bulk column (varchar shares text's
    binary form)."""
    if isinstance(type_, UtcDateTime):
        return "timestamptz"
    if isinstance(type_, LargeBinary):
        return "bytea"
    if isinstance(type_, String):
        return "text"
    raise TypeError(f"no COPY type for {type_!r}")


def _copy_rows(
    conn: Connection,
    table: str,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    stamp: tuple[Any, ...],
    types: Sequence[str],
) -> None:
    """``COPY table (columns) FROM STDIN`` on the session's own psycopg connection, so in
    its transaction. Binary format: no text escaping of the sealed bytes on either side."""
    driver = conn.connection.driver_connection
    assert driver is not None
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
    # As SQLAlchemy reports a failed statement (IntegrityError for a unique violation), so
    # callers and the CLI's error mapping see the same exceptions on both backends.
    with (
        sqlalchemy_errors(conn, statement),
        driver.cursor() as cursor,
        cursor.copy(statement) as copy,
    ):
        copy.set_types(types)
        write = copy.write_row
        for row in rows:
            write(row + stamp)


def _chunks(items: Sequence[Any], size: int = _IN_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class RegistryRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    # -- bulk import -----------------------------------------------------------------------
    def person_ids_by_index(self, indexes: Sequence[bytes]) -> dict[bytes, str]:
        """Holders of these blind indexes (the import's duplicate check, several thousand
        indexes a batch): driver-level, one ``= ANY(array)`` on PostgreSQL, ``IN`` lists of
        ``_IN_CHUNK`` on SQLite."""
        conn = self._session.connection()
        found: dict[bytes, str] = {}
        if not indexes:
            return found
        if conn.dialect.name == "postgresql":
            driver = conn.connection.driver_connection
            assert driver is not None
            # Binary parameters: the text form of a bytea array escapes every byte.
            with driver.cursor() as cursor:
                cursor.execute(
                    "SELECT number_index, person_id FROM document WHERE number_index = ANY(%s)",
                    (list(indexes),),
                    binary=True,
                )
                found.update({bytes(idx): pid for idx, pid in cursor})
            return found
        for chunk in _chunks(list(indexes)):
            rows = conn.exec_driver_sql(
                "SELECT number_index, person_id FROM document "  # noqa: S608 - only "?" marks
                f"WHERE number_index IN ({', '.join('?' for _ in chunk)})",
                tuple(chunk),
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
        now: dt.datetime,
    ) -> None:
        """Bulk insert, rows as tuples in the column order of ``BULK_COLUMNS``, each row
        stamped ``now`` in the ``BULK_TIMESTAMPS`` columns.

        Straight to the driver: SQLAlchemy's per-row parameter processing costs more than the
        insert itself at import rates. SQLite gets one ``executemany`` per table; PostgreSQL a
        ``COPY ... FROM STDIN`` per table (a fraction of the cost of row-by-row INSERTs; a
        constraint violation fails the whole COPY, and the transaction, as an INSERT would).
        The timestamp goes through its column type's bind processor for this dialect once,
        so it is stored exactly as the ORM stores it.
        """
        conn = self._session.connection()
        dialect = conn.dialect
        for model, rows in (
            (Person, people),
            (PersonKey, person_keys),
            (Document, documents),
            (GuardianLink, links),
        ):
            if not rows:
                continue
            table = _table(model)
            columns = (*BULK_COLUMNS[table.name], *BULK_TIMESTAMPS[table.name])
            stamp = tuple(
                _bind(table.c[name].type, dialect, now) for name in BULK_TIMESTAMPS[table.name]
            )
            if dialect.name == "postgresql":
                types = [_copy_type(table.c[name].type) for name in columns]
                _copy_rows(conn, table.name, columns, rows, stamp, types)
                continue
            sql = (
                f"INSERT INTO {table.name} ({', '.join(columns)}) "  # noqa: S608 - constant names
                f"VALUES ({', '.join('?' for _ in columns)})"
            )
            conn.exec_driver_sql(sql, [row + stamp for row in rows] if stamp else list(rows))

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

    def document_row_by_indexes(self, indexes: Sequence[bytes]) -> DocumentRow | None:
        conn = self._session.connection()
        statement = _DOCUMENT_BY_INDEXES.get(len(indexes))
        if statement is None:  # more live index keys than a rotation ever leaves
            found = self.document_by_indexes(indexes)
            if found is None:
                return None
            return DocumentRow(
                found.id, found.person_id, found.type_code, found.data_sealed, found.status
            )
        return statement.first(conn, indexes)

    def person_row(self, person_id: str) -> PersonRow | None:
        return _PERSON_BY_ID.one_or_none(self._session.connection(), (person_id,))

    def person_key_row(self, person_id: str) -> PersonKeyRow | None:
        return _PERSON_KEY_BY_ID.one_or_none(self._session.connection(), (person_id,))

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
        return [row.marker for row in _MARKERS_OF.all(self._session.connection(), (person_id,))]

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
