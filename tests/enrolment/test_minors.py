"""Minors: under 14 the guardian enrols (their wallet session); 14–17 wait for a guardian."""

from __future__ import annotations

import datetime as dt

import pytest

from netid.config import Settings
from netid.enrolment import models as m
from netid.enrolment.errors import GuardianNotLinked
from netid.sms.service import OutboxService
from tests.conftest import Backend
from tests.enrolment.support import ACTOR, Device, World, make_world
from tests.enrolment.test_refusals import refused

pytestmark = pytest.mark.db


@pytest.fixture
def world(settings: Settings, db: Backend) -> World:
    return make_world(settings, db)


def _last_phone(world: World) -> str:
    with world.container.transaction(write=False) as session:
        outbox: OutboxService = world.container.outbox(session)
        return outbox.list(1, actor=ACTOR, show_phone=True)[0].phone


def test_under_14_needs_a_linked_guardians_session(world: World) -> None:
    device = Device(world.clock)
    before = world.snapshot()
    refused(world.start("child", device), 403, "guardian_required")
    stranger_device = Device(world.clock)
    stranger = world.enrol("stranger", stranger_device)
    stranger_token = world.session(stranger["credential_id"], stranger_device)
    snapshot = world.snapshot()
    refused(world.start("child", device, token=stranger_token), 403, "guardian_not_linked")
    assert world.snapshot() == snapshot
    refused(world.start("child", device, token="nat1.bad.token.x"), 401, "session_invalid")
    assert before["enrolment"] == [] and world.count(m.Enrolment) == 1  # the stranger's own
    # The mother, enrolled and signed in, enrols her child; the code goes to her bound phone.
    mother_device = Device(world.clock)
    mother = world.enrol("mother", mother_device)
    token = world.session(mother["credential_id"], mother_device)
    started = world.start("child", device, token=token)
    assert started.status_code == 201, started.text
    assert started.json()["supervision"] == "guardian_enrols"
    assert _last_phone(world) == world.records["mother"]["phones"][0]
    enrolment_id = started.json()["enrolment_id"]
    assert world.face(enrolment_id, device).status_code == 200
    assert world.otp(enrolment_id).status_code == 200
    done = world.complete(enrolment_id, device)
    assert done.status_code == 201, done.text
    child_token = world.session(done.json()["credential_id"], device)
    me = world.http.get("/v1/wallet/me", headers={"Authorization": f"Bearer {child_token}"})
    assert me.json()["age_band"] == "under_14"
    with world.container.transaction(write=False) as session:
        assert world.container.enrolment(session).person_age(world.person_id("child")) == 10


def test_14_to_17_waits_for_a_guardians_approval(world: World) -> None:
    device = Device(world.clock)
    started = world.start("teen", device)
    assert started.json()["supervision"] == "guardian_approves"
    assert _last_phone(world) == world.records["teen"]["phones"][0]
    enrolment_id = started.json()["enrolment_id"]
    assert world.face(enrolment_id, device).status_code == 200
    assert world.otp(enrolment_id).status_code == 200
    waiting = world.complete(enrolment_id, device)
    assert waiting.status_code == 202 and waiting.json() == {"state": "awaiting_guardian"}
    assert world.count(m.Credential) == 0
    status = world.http.post("/v1/enrolments/status", json={"enrolment_id": enrolment_id})
    assert status.json()["state"] == "awaiting_guardian"
    assert world.complete(enrolment_id, device).status_code == 202  # still waiting
    mother_id, stranger_id = world.person_id("mother"), world.person_id("stranger")
    world.enrol("stranger", Device(world.clock))
    with world.container.transaction() as session:
        service = world.container.enrolment(session)
        assert service.pending_guardian_enrolments(stranger_id) == []
        pending = service.pending_guardian_enrolments(mother_id)
        assert len(pending) == 1 and pending[0].ward_name_masked == "李**"
        request_id = pending[0].enrolment_id
        with pytest.raises(GuardianNotLinked):
            service.approve_enrolment_as_guardian(request_id, stranger_id, actor=ACTOR)
        with pytest.raises(GuardianNotLinked):  # linked, but not enrolled
            service.approve_enrolment_as_guardian(request_id, mother_id, actor=ACTOR)
    world.enrol("mother", Device(world.clock))
    world.clock.advance(dt.timedelta(days=2))
    with world.container.transaction() as session:
        service = world.container.enrolment(session)
        service.approve_enrolment_as_guardian(request_id, mother_id, actor="citizen")
    done = world.complete(enrolment_id, device)
    assert done.status_code == 201, done.text


def test_a_guardian_can_deny(world: World) -> None:
    device = Device(world.clock)
    enrolment_id = world.until_ready("teen", device)
    assert world.complete(enrolment_id, device).status_code == 202
    world.enrol("mother", Device(world.clock))
    mother_id = world.person_id("mother")
    with world.container.transaction() as session:
        service = world.container.enrolment(session)
        request_id = service.pending_guardian_enrolments(mother_id)[0].enrolment_id
        service.deny_enrolment_as_guardian(request_id, mother_id, actor="citizen")
    refused(world.complete(enrolment_id, device), 403, "enrolment_denied")
    assert world.count(m.Credential) == 1  # the mother's only


def test_a_wait_for_a_guardian_ends_by_itself_on_the_18th_birthday(world: World) -> None:
    """17 at the start (guardian_approves), 18 the next day: completing again needs no
    guardian any more (the age is read from the registry at each step, China time)."""
    import random

    from netid.registry.schemas import parse_record
    from tests.faces.photos import photo
    from tests.registry.factories import TODAY, person_record

    link = [{"document_number": world.number("mother"), "relation": "mother"}]
    birth = TODAY.replace(year=TODAY.year - 18) + dt.timedelta(days=1)
    record = person_record(random.Random(18), name="李大龙", birth=birth, guardians=link)
    with world.container.registry_unit() as registry:
        assert registry.import_batch([(1, parse_record(record, today=TODAY))], actor=ACTOR).imported
    world.records["almost_adult"] = record
    matcher = world.container.face_matcher()
    with world.container.transaction() as session:
        world.container.registry(session).store_face_template(
            world.person_id("almost_adult"),
            model=matcher.model,
            template=matcher.template(photo("astronaut.png")),
            actor=ACTOR,
        )
    device = Device(world.clock)
    enrolment_id = world.until_ready("almost_adult", device)
    assert world.complete(enrolment_id, device).status_code == 202
    world.clock.advance(dt.timedelta(days=1))  # the 18th birthday
    done = world.complete(enrolment_id, device)
    assert done.status_code == 201, done.text
    assert world.count(m.Credential) == 1
