from __future__ import annotations

import datetime as dt
import random

import orjson
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError

from netid.audit.models import AccessRecord
from netid.container import Container
from netid.crypto.errors import SealedValueInvalid, UnknownKey
from netid.crypto.sealing import open_sealed
from netid.documents import InvalidDocumentNumber
from netid.keys.schemas import KeyPurpose
from netid.registry.errors import KeysChanged
from netid.registry.models import Document, GuardianLink, Person, PersonKey
from netid.registry.repository import RegistryRepository
from netid.registry.schemas import parse_record
from netid.registry.service import RegistryService, prepare_person
from tests.conftest import Backend
from tests.registry.factories import TODAY, mother_and_child, person_record

pytestmark = pytest.mark.db
ACTOR = "operator:test"


def load(container: Container, records: list[dict[str, object]]) -> None:
    rows = [(i + 1, parse_record(r, today=TODAY)) for i, r in enumerate(records)]
    with container.registry_unit() as registry:
        outcome = registry.import_batch(rows, actor=ACTOR)
    assert not outcome.rejections, outcome.rejections


def test_import_then_show_masks_and_records_who_looked(container: Container) -> None:
    rng = random.Random(1)
    record = person_record(rng, name="阿依古丽·买买提", sex="F", passport=True)
    load(container, [record])
    number = record["documents"][0]["number"]  # type: ignore[index]
    with container.registry_unit() as registry:
        shown = registry.show(number, actor=ACTOR, purpose="support")
    assert shown is not None
    assert shown.name == "阿" + "*" * 7
    assert shown.documents[0].number == number[:6] + "*" * 8 + number[-4:]
    assert len(shown.documents) == 2
    assert shown.phones[0].startswith("+86139") and "****" in shown.phones[0]
    with container.transaction() as session:
        [entry] = session.scalars(
            select(AccessRecord).where(AccessRecord.action == "registry.show")
        ).all()
    assert entry.actor == ACTOR and entry.outcome == "ok" and entry.purpose == "support"
    assert entry.subject_ref_sealed is not None
    canonical = orjson.loads(entry.canonical)
    assert canonical["action"] == "registry.show"
    assert number not in entry.canonical.decode()


def test_show_unknown_number_is_recorded_and_invalid_one_refused(container: Container) -> None:
    with container.registry_unit() as registry:
        assert registry.show("11010519491231002X", actor=ACTOR) is None
    with pytest.raises(InvalidDocumentNumber) as info, container.registry_unit() as registry:
        registry.show("110105194912310021", actor=ACTOR)
    assert info.value.rule == "check_digit"
    with container.transaction() as session:
        outcomes = session.scalars(select(AccessRecord.outcome)).all()
    assert outcomes == ["not_found"]  # an invalid number looks nothing up


def test_lookup_accepts_the_number_as_people_type_it(container: Container) -> None:
    rng = random.Random(2)
    record = person_record(rng)
    load(container, [record])
    number: str = record["documents"][0]["number"]  # type: ignore[index]
    typed = " ".join([number[:6], number[6:14], number[14:]]).lower()
    with container.transaction() as session:
        assert container.registry(session).find_person_id(typed) is not None


def test_reimport_creates_no_duplicates(container: Container) -> None:
    rng = random.Random(3)
    records = [person_record(rng, name=f"李{i}") for i in range(5)]
    load(container, records)
    rows = [(i, parse_record(r, today=TODAY)) for i, r in enumerate(records)]
    with container.registry_unit() as registry:
        outcome = registry.import_batch(rows, actor=ACTOR)
    assert (outcome.imported, outcome.duplicates) == (0, 5)
    with container.transaction() as session:
        assert container.registry(session).count() == 5


def test_duplicate_number_within_a_batch_is_rejected(container: Container) -> None:
    rng = random.Random(4)
    record = person_record(rng)
    rows = [(1, parse_record(record, today=TODAY)), (2, parse_record(record, today=TODAY))]
    with container.registry_unit() as registry:
        outcome = registry.import_batch(rows, actor=ACTOR)
    assert outcome.imported == 1
    assert [(r.line, r.rule) for r in outcome.rejections] == [(2, "duplicate")]


def test_guardian_links_resolve_and_unknown_guardians_are_rejected(container: Container) -> None:
    rng = random.Random(5)
    mother, child = mother_and_child(rng, "王芳", "王小明", TODAY.replace(year=2020))
    mother_number = mother["documents"][0]["number"]  # type: ignore[index]
    orphan_ref = person_record(rng, name="赵一", birth=TODAY.replace(year=2021))
    stranger = person_record(rng)["documents"][0]["number"]  # type: ignore[index]
    orphan_ref["guardians"] = [{"document_number": stranger, "relation": "guardian"}]
    rows = [(i, parse_record(r, today=TODAY)) for i, r in enumerate([mother, child, orphan_ref])]
    with container.registry_unit() as registry:
        outcome = registry.import_batch(rows, actor=ACTOR)
    assert outcome.imported == 2
    assert [(r.line, r.field, r.rule) for r in outcome.rejections] == [
        (2, "guardians[0].document_number", "guardian_unknown")
    ]
    with container.registry_unit() as registry:
        exported = list(registry.unsafe_export_plaintext(actor=ACTOR))
    assert [p.name for p in exported] == ["王芳", "王小明"]
    assert exported[1].guardians[0].document_number == mother_number
    assert exported[1].guardians[0].relation == "mother"


def test_export_round_trips_every_field(container: Container) -> None:
    rng = random.Random(6)
    records = [
        person_record(rng, name="𠮷田", passport=True),
        person_record(rng, name="John Smith"),
    ]
    load(container, records)
    with container.registry_unit() as registry:
        exported = [p.to_record() for p in registry.unsafe_export_plaintext(actor=ACTOR)]
    assert exported == records


def test_sealed_value_moved_to_another_row_fails(container: Container, db: Backend) -> None:
    rng = random.Random(7)
    load(container, [person_record(rng, name="甲"), person_record(rng, name="乙")])
    with container.transaction() as session:
        first, second = session.scalars(select(Person).order_by(Person.id)).all()
        second_key = session.get(PersonKey, second.id)
        assert second_key is not None
        registry = container.registry(session)
        key = registry._person_key(second_key)
        # Another person's value names another person key: it cannot open here.
        with pytest.raises(UnknownKey):
            open_sealed(
                {key.key_id: key},
                first.name_sealed,
                table="person",
                column="name",
                row_id=second.id,
            )
        # Relabelled to this person's key id, the AAD (row id) still refuses it.
        relabelled = first.name_sealed[:1] + key.key_id.encode() + first.name_sealed[9:]
        with pytest.raises(SealedValueInvalid):
            open_sealed(
                {key.key_id: key}, relabelled, table="person", column="name", row_id=second.id
            )
        # Under the right key, a value moved to another column does not open either.
        with pytest.raises(SealedValueInvalid):
            open_sealed(
                {key.key_id: key},
                second.name_sealed,
                table="person",
                column="attributes",
                row_id=second.id,
            )


def test_crypto_shredding_makes_fields_and_audit_refs_unreadable(container: Container) -> None:
    rng = random.Random(8)
    record = person_record(rng)
    load(container, [record])
    number = record["documents"][0]["number"]  # type: ignore[index]
    with container.registry_unit() as registry:
        person_id = registry.find_person_id(number)
        assert person_id is not None
        registry.show(number, actor=ACTOR)
        registry.unsafe_crypto_shred(person_id, actor=ACTOR)
    with container.registry_unit() as registry:
        assert registry.show(number, actor=ACTOR) is None
        assert list(registry.unsafe_export_plaintext(actor=ACTOR)) == []
    with container.transaction() as session:
        entry = session.scalars(
            select(AccessRecord).where(
                AccessRecord.outcome == "ok", AccessRecord.action == "registry.show"
            )
        ).one()
        assert entry.subject_ref_sealed is not None
        assert session.get(PersonKey, person_id) is None  # nothing left that could open it


def test_data_key_rotation_rewraps_and_old_key_can_then_retire(container: Container) -> None:
    rng = random.Random(9)
    records = [person_record(rng, name=f"周{i}") for i in range(7)]
    load(container, records)
    old = container.keyring().active(KeyPurpose.DATA).key_id
    with container.transaction() as session:
        container.keyring_service(session).rotate(KeyPurpose.DATA)
    container.keyring(reload=True)
    done = []
    while True:  # resumable batches of 3: each is its own transaction
        with container.registry_unit() as registry:
            n = registry.rewrap_person_keys(batch_size=3, actor=ACTOR)
        if not n:
            break
        done.append(n)
    assert done == [3, 3, 1]
    with container.transaction() as session:
        assert container.registry(session).references_to_key(old) == 0
        container.keyring_service(session).retire(old, references=0)
    container.keyring(reload=True)
    with container.registry_unit() as registry:
        assert [p.name for p in registry.unsafe_export_plaintext(actor=ACTOR)] == [
            r["name"] for r in records
        ]


def test_blind_index_rotation_keeps_lookups_working_during_rebuild(container: Container) -> None:
    rng = random.Random(10)
    records = [person_record(rng, name=f"吴{i}") for i in range(4)]
    load(container, records)
    numbers = [r["documents"][0]["number"] for r in records]  # type: ignore[index]
    with container.transaction() as session:
        container.keyring_service(session).rotate(KeyPurpose.BLIND_INDEX)
    container.keyring(reload=True)
    with container.registry_unit() as registry:
        assert registry.rebuild_blind_index(batch_size=2, actor=ACTOR) == 2
    with container.transaction() as session:  # half old index, half new: all found
        registry = container.registry(session)
        assert all(registry.find_person_id(n) for n in numbers)
    with container.registry_unit() as registry:
        assert registry.rebuild_blind_index(batch_size=2, actor=ACTOR) == 2
        assert registry.rebuild_blind_index(batch_size=2, actor=ACTOR) == 0
    with container.transaction() as session:
        new_key = container.keyring().active(KeyPurpose.BLIND_INDEX).key_id
        assert set(session.scalars(select(Document.index_key_id)).all()) == {new_key}


def test_face_templates_use_their_own_key(container: Container, db: Backend) -> None:
    rng = random.Random(11)
    record = person_record(rng)
    load(container, [record])
    template = bytes(range(256)) * 2
    with container.registry_unit() as registry:
        person_id = registry.find_person_id(record["documents"][0]["number"])  # type: ignore[index]
        assert person_id is not None
        registry.store_face_template(
            person_id, model="dlib-resnet-v1", template=template, actor=ACTOR
        )
    keyring = container.keyring()
    face_key = keyring.active(KeyPurpose.FACE).key_id
    assert face_key != keyring.active(KeyPurpose.DATA).key_id
    with container.registry_unit() as registry:
        assert registry.load_face_template(person_id, actor=ACTOR, purpose="face-check") == template
    with container.transaction() as session:
        container.keyring_service(session).rotate(KeyPurpose.FACE)
    container.keyring(reload=True)
    with container.registry_unit() as registry:
        assert registry.reseal_face_templates(batch_size=10, actor=ACTOR) == 1
        assert registry.load_face_template(person_id, actor=ACTOR, purpose="face-check") == template
        assert registry.references_to_key(face_key) == 0


def test_documents_of_unknown_key_raise_unknown_key(container: Container, db: Backend) -> None:
    rng = random.Random(12)
    load(container, [person_record(rng)])
    with db.engine.begin() as conn:
        conn.execute(update(PersonKey).values(data_key_id="zzzzzzzz"))
    with pytest.raises(UnknownKey), container.registry_unit() as registry:
        list(registry.unsafe_export_plaintext(actor=ACTOR))


def test_registry_service_is_built_by_the_container(container: Container) -> None:
    with container.registry_unit() as registry:
        assert isinstance(registry, RegistryService)


def test_face_template_reads_and_writes_are_recorded(container: Container) -> None:
    rng = random.Random(13)
    record = person_record(rng)
    load(container, [record])
    with container.registry_unit() as registry:
        person_id = registry.find_person_id(record["documents"][0]["number"])  # type: ignore[index]
        assert person_id is not None
        registry.store_face_template(person_id, model="m", template=b"t" * 512, actor=ACTOR)
        registry.load_face_template(person_id, actor=ACTOR, purpose="face-check")
    with container.transaction() as session:
        rows = session.scalars(
            select(AccessRecord).where(AccessRecord.action.like("registry.face_template.%"))
        ).all()
    assert [(r.action, r.purpose) for r in rows] == [
        ("registry.face_template.store", None),
        ("registry.face_template.load", "face-check"),
    ]
    assert all(r.subject_ref_sealed for r in rows)


def test_shredded_guardian_leaves_rotation_export_and_reimport_working(
    container: Container,
) -> None:
    rng = random.Random(14)
    mother, child = mother_and_child(rng, "钱红", "钱小", TODAY.replace(year=2019))
    mother_number = mother["documents"][0]["number"]  # type: ignore[index]
    load(container, [mother, child])
    with container.registry_unit() as registry:
        mother_id = registry.find_person_id(mother_number)
        assert mother_id is not None
        registry.unsafe_crypto_shred(mother_id, actor=ACTOR)
        # The blind index no longer confirms the number was ever registered.
        assert registry.find_person_id(mother_number) is None
    with container.transaction() as session:
        container.keyring_service(session).rotate(KeyPurpose.BLIND_INDEX)
    container.keyring(reload=True)
    with container.registry_unit() as registry:
        assert registry.rebuild_blind_index(batch_size=10, actor=ACTOR) == 1
    with container.registry_unit() as registry:
        [exported] = [p.to_record() for p in registry.unsafe_export_plaintext(actor=ACTOR)]
    assert exported["name"] == "钱小" and exported["guardians"] == []
    rows = [(1, parse_record(mother, today=TODAY))]
    with container.registry_unit() as registry:
        assert registry.import_batch(rows, actor=ACTOR).imported == 1


def test_a_guardian_named_twice_is_rejected_not_a_crash(container: Container) -> None:
    rng = random.Random(15)
    father = person_record(rng, name="孙强", passport=True)
    numbers = [d["number"] for d in father["documents"]]  # type: ignore[union-attr]
    child = person_record(
        rng,
        birth=TODAY.replace(year=2020),
        guardians=[
            {"document_number": numbers[0], "relation": "father"},
            {"document_number": numbers[1], "relation": "guardian"},  # same man, other document
        ],
    )
    rows = [(1, parse_record(father, today=TODAY)), (2, parse_record(child, today=TODAY))]
    with container.registry_unit() as registry:
        outcome = registry.import_batch(rows, actor=ACTOR)
    assert outcome.imported == 1
    assert [(r.line, r.field, r.rule) for r in outcome.rejections] == [
        (2, "guardians[1].document_number", "duplicate")
    ]


def test_documents_held_by_someone_else_are_a_conflict_not_a_duplicate(
    container: Container,
) -> None:
    rng = random.Random(16)
    first = person_record(rng, name="周一")
    load(container, [first])
    second = person_record(rng, name="周二", passport=True)
    second["documents"][1] = first["documents"][0]  # type: ignore[index]
    second["birth_date"] = first["birth_date"]
    second["documents"][0] = person_record(  # type: ignore[index]
        rng, birth=dt.date.fromisoformat(str(first["birth_date"]))
    )["documents"][0]  # type: ignore[index]
    rows = [(1, parse_record(second, today=TODAY)), (2, parse_record(first, today=TODAY))]
    with container.registry_unit() as registry:
        outcome = registry.import_batch(rows, actor=ACTOR)
    assert (outcome.imported, outcome.duplicates) == (0, 1)
    assert [(r.line, r.rule) for r in outcome.rejections] == [(1, "conflict")]


def test_a_rotation_between_prepare_and_store_writes_nothing(container: Container) -> None:
    rng = random.Random(18)
    rows = [(1, parse_record(person_record(rng), today=TODAY))]
    with container.registry_unit() as registry:
        keys = registry.import_keys()
        prepared = [prepare_person(line, p, keys) for line, p in rows]
    with container.transaction() as session:
        container.keyring_service(session).rotate(KeyPurpose.DATA)
    with pytest.raises(KeysChanged), container.registry_unit() as registry:
        registry.store_prepared(prepared, actor=ACTOR, keys=keys)
    with container.transaction() as session:
        assert container.registry(session).count() == 0


def test_a_document_status_edited_in_the_database_is_detected(
    container: Container, db: Backend
) -> None:
    rng = random.Random(19)
    record = person_record(rng)
    record["documents"][0]["status"] = "revoked"  # type: ignore[index]
    load(container, [record])
    with db.engine.begin() as conn:  # someone with database access "un-revokes" it
        conn.execute(update(Document).values(status="valid"))
    with pytest.raises(SealedValueInvalid), container.registry_unit() as registry:
        registry.show(record["documents"][0]["number"], actor=ACTOR)  # type: ignore[index]


def test_bulk_rows_carry_the_batch_time_stored_as_the_orm_stores_it(
    container: Container, db: Backend
) -> None:
    """The bulk insert (executemany on SQLite, binary COPY on PostgreSQL) binds the batch's
    time once through the column type: on SQLite the zone-less UTC text the ORM writes, not
    the driver's own datetime adapter (which appends "+00:00")."""
    rng = random.Random(20)
    mother, child = mother_and_child(rng, "王芳", "李小明", dt.date(2015, 3, 1))
    rows = [(1, parse_record(mother, today=TODAY)), (2, parse_record(child, today=TODAY))]
    now = dt.datetime(2026, 11, 22, 16, 30, 15, 123456, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    with container.registry_unit() as registry:
        keys = registry.import_keys()
        prepared = [prepare_person(line, p, keys) for line, p in rows]
        outcome = registry.store_prepared(prepared, actor=ACTOR, keys=keys, now=now)
    assert outcome.imported == 2
    with container.transaction() as session:
        stamps = (
            session.execute(
                text(
                    "SELECT created_at FROM person UNION ALL SELECT updated_at FROM person "
                    "UNION ALL SELECT created_at FROM document "
                    "UNION ALL SELECT updated_at FROM document "
                    "UNION ALL SELECT created_at FROM guardian_link"
                )
            )
            .scalars()
            .all()
        )
        people = session.scalars(select(Person)).all()
        links = session.scalars(select(GuardianLink)).all()
    assert len(stamps) == 2 * 2 + 2 * 2 + 1
    assert set(stamps) == ({"2026-11-22 08:30:15.123456"} if db.name == "sqlite" else {now})
    assert {p.created_at for p in people} == {p.updated_at for p in people} == {now}
    assert [link.created_at for link in links] == [now]
    with container.registry_unit() as registry:  # and every sealed field opens
        exported = [p.to_record() for p in registry.unsafe_export_plaintext(actor=ACTOR)]
    assert exported == [mother, child]


def test_a_failed_bulk_insert_is_the_database_error_and_writes_nothing(
    container: Container,
) -> None:
    """A constraint violation inside the bulk insert (two imports racing past the duplicate
    check) fails the batch as SQLAlchemy's IntegrityError on both backends (the COPY's
    driver error is translated), and the transaction leaves nothing behind."""
    rng = random.Random(21)
    rows = [(1, parse_record(person_record(rng), today=TODAY))]
    with container.registry_unit() as registry:
        keys = registry.import_keys()
        [prepared] = [prepare_person(line, p, keys) for line, p in rows]
    now = container.clock.now()
    with container.transaction() as session:
        RegistryRepository(session).insert_rows(
            people=[prepared.person_row],
            person_keys=[prepared.key_row],
            documents=prepared.document_rows,
            links=[],
            now=now,
        )
    again = prepare_person(1, rows[0][1], keys)  # other ids, the same blind index
    with pytest.raises(IntegrityError), container.transaction() as session:
        RegistryRepository(session).insert_rows(
            people=[again.person_row],
            person_keys=[again.key_row],
            documents=again.document_rows,
            links=[],
            now=now,
        )
    with container.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Person)) == 1
        assert session.scalar(select(func.count()).select_from(PersonKey)) == 1
