"""Pure rules: PIN strength, ages and birthdays, credential expiry caps, status-list slots."""

from __future__ import annotations

import datetime as dt

import pytest

from netid.config import Settings
from netid.enrolment.errors import PinTooWeak
from netid.enrolment.models import Credential, StatusList
from netid.enrolment.schemas import age_band, age_on, birthday
from netid.enrolment.service import normalise_pin
from tests.conftest import Backend
from tests.enrolment.support import Device, World, make_world


@pytest.mark.parametrize(
    "pin",
    ["12345", "1" * 6, "123456", "234567", "654321", "890123", "321098", "zzzzzzzz", "x" * 65],
)
def test_weak_pins(pin: str) -> None:
    with pytest.raises(PinTooWeak):
        normalise_pin(pin)


def test_pins_are_nfkc_and_may_be_long() -> None:
    assert normalise_pin("１２４６８０") == "124680"  # full-width digits
    assert normalise_pin("a" + "b" * 63) == "a" + "b" * 63
    assert normalise_pin("135790") == "135790"


def test_ages_and_birthdays() -> None:
    leap = dt.date(2008, 2, 29)
    assert age_on(leap, dt.date(2026, 2, 28)) == 17
    assert age_on(leap, dt.date(2026, 3, 1)) == 18
    assert birthday(leap, 18) == dt.date(2026, 3, 1)
    assert birthday(leap, 16) == dt.date(2024, 2, 29)
    assert [age_band(a) for a in (0, 13, 14, 17, 18)] == [
        "under_14",
        "under_14",
        "14_17",
        "14_17",
        "adult",
    ]


@pytest.mark.db
def test_expiry_is_capped_at_the_next_marker_birthday(settings: Settings, db: Backend) -> None:
    world = make_world(settings, db)
    # The teen turned 15 today (TODAY - 15 years): age_over_16 flips on the 16th birthday.
    device = Device(world.clock)
    enrolment_id = world.until_ready("teen", device)
    assert world.complete(enrolment_id, device).status_code == 202
    world.enrol("mother", Device(world.clock))
    mother = world.person_id("mother")
    with world.container.transaction() as session:
        service = world.container.enrolment(session)
        request = service.pending_guardian_enrolments(mother)[0].enrolment_id
        service.approve_enrolment_as_guardian(request, mother, actor="citizen")
    done = world.complete(enrolment_id, device).json()
    birth = dt.date.fromisoformat(world.records["teen"]["birth_date"])
    sixteenth = dt.datetime.combine(
        birthday(birth, 16), dt.time(0), dt.timezone(dt.timedelta(hours=8))
    )
    assert dt.datetime.fromisoformat(done["expires_at"]) == sixteenth


@pytest.mark.db
def test_a_new_status_list_when_one_fills(settings: Settings, db: Backend) -> None:
    world = make_world(settings, db)
    from sqlalchemy import select

    people = ["adult", "stranger", "mother"]
    with world.container.transaction() as session:
        service = world.container.enrolment(session)
        service._status_list_size = 2  # a tiny list, to see it fill
        slots = []
        for _ in range(2):  # each slot taken before the next is drawn, as issuance does
            list_id, index = service._allocate_slot()
            session.add(_credential(world, list_id, index, people.pop()))
            session.flush()
            slots.append((list_id, index))
        third = service._allocate_slot()
    assert slots[0][0] == slots[1][0] and {slots[0][1], slots[1][1]} == {0, 1}
    assert third[0] != slots[0][0]
    with world.container.transaction(write=False) as session:
        lists = session.scalars(select(StatusList)).all()
    assert sorted(lst.allocated for lst in lists) == [1, 2]


def _credential(world: World, list_id: str, index: int, who: str) -> Credential:
    now = world.clock.now()
    return Credential(
        id=f"{index:032x}",
        person_id=world.person_id(who),
        enrolment_id="0" * 32,
        device_jwk="{}",
        device_thumbprint="t",
        pin_hash=None,
        failed_pins=0,
        lockouts=0,
        locked_until=None,
        status="active",
        suspended=False,
        status_list_id=list_id,
        status_index=index,
        issued_at=now,
        expires_at=now,
        revoked_at=None,
        revocation_reason=None,
        created_at=now,
    )
