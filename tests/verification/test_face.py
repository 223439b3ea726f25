"""``face`` verifications with the real dlib matcher and real photos (tests/faces/photos)."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from PIL import Image

from netid.container import Container
from netid.institutions.schemas import InstitutionView
from netid.monitoring.errors import FrozenByMonitor
from netid.monitoring.service import MonitoringService
from tests.faces.photos import jpeg, photo
from tests.verification.support import ACTOR, People, approved, load_people
from tests.verification.test_service import (
    answer_of,
    ask,
    records,
    refusal_of,
    verification_records,
)

pytestmark = pytest.mark.db


@pytest.fixture
def setting(container: Container) -> tuple[People, InstitutionView]:
    people = load_people(container)
    with container.transaction() as session:
        matcher = container.face_matcher()
        registry = container.registry(session)
        person_id = registry.find_person_id(people.number("adult"))
        assert person_id is not None
        registry.store_face_template(
            person_id,
            model=matcher.model,
            template=matcher.template(photo("astronaut.png")),
            actor=ACTOR,
        )
    bank = approved(container, industry="banking_finance", purposes=["account_opening"])
    return people, bank


def face(
    people: People, image: bytes, who: str = "adult", name: str | None = None
) -> dict[str, Any]:
    record = getattr(people, who)
    return {
        "type": "face",
        "purpose": "account_opening",
        "subject": {
            "document_number": people.number(who),
            "name": name or record["name"],
            "face_image": base64.b64encode(image).decode(),
        },
    }


def test_the_same_face_matches(
    container: Container, setting: tuple[People, InstitutionView]
) -> None:
    people, bank = setting
    probe = jpeg(photo("astronaut.png"), brightness=1.2, crop=20)  # another shot, as it were
    answer = answer_of(ask(container, bank, face(people, probe)))
    assert answer.result == "match" and answer.pseudonym
    assert answer.face_similarity is not None and answer.face_similarity > 0.5
    assert answer.receipt.price_fen == 30
    # The template read is biometric: recorded on its own, beside the verification.
    actions = [r["action"] for r in verification_records(container)]
    assert actions == ["verification.face"]


def test_another_face_does_not_match(
    container: Container, setting: tuple[People, InstitutionView]
) -> None:
    people, bank = setting
    answer = answer_of(ask(container, bank, face(people, jpeg(photo("tom_hanks.png")))))
    assert answer.result == "mismatch" and answer.pseudonym is None
    assert answer.face_similarity is None  # a mismatch says nothing about the person


def test_face_is_never_the_only_factor(
    container: Container, setting: tuple[People, InstitutionView]
) -> None:
    people, bank = setting
    wrong_name = face(people, jpeg(photo("astronaut.png")), name="张三")
    assert answer_of(ask(container, bank, wrong_name)).result == "mismatch"


def test_no_enrolled_template_is_a_mismatch(
    container: Container, setting: tuple[People, InstitutionView]
) -> None:
    people, bank = setting
    answer = answer_of(
        ask(container, bank, face(people, jpeg(photo("astronaut.png")), who="minor"))
    )
    assert answer.result == "mismatch"


def test_an_image_without_a_face_is_refused_clearly(
    container: Container, setting: tuple[People, InstitutionView]
) -> None:
    people, bank = setting
    blank = io.BytesIO()
    Image.new("RGB", (200, 200), "white").save(blank, "PNG")
    refusal = refusal_of(ask(container, bank, face(people, blank.getvalue())))
    assert refusal.code == "no_face_found"
    group = refusal_of(ask(container, bank, face(people, jpeg(photo("group.jpg")))))
    assert group.code == "multiple_faces"
    broken = refusal_of(ask(container, bank, face(people, b"\xff\xd8\xff\xe0 not really")))
    assert broken.code == "invalid_image"
    assert {r["outcome"] for r in verification_records(container)} == {"refused"}


def test_a_face_query_monitoring_refuses_reads_no_template(
    container: Container,
    setting: tuple[People, InstitutionView],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The look-up and the template read (itself recorded) wait until monitoring has admitted
    the query: a refused query opens no biometric data and its record names nobody."""
    people, bank = setting

    def refuse(self: MonitoringService, query: Any) -> None:
        raise FrozenByMonitor()

    monkeypatch.setattr(MonitoringService, "admit", refuse)
    before = len(records(container))
    refusal = refusal_of(ask(container, bank, face(people, jpeg(photo("astronaut.png")))))
    assert refusal.code == FrozenByMonitor.code
    added = records(container)[before:]
    assert [(r["action"], r["outcome"]) for r in added] == [("verification.face", "refused")]
    assert added[0]["_sealed"] is None
