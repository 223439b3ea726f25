"""A small world for password-account tests: a pinned clock, a registry of a few people (one
without a phone, one deceased, one with a revoked document) and the HTTP app over it."""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi.testclient import TestClient
from sqlalchemy import select

from netid.accounts.errors import Refusal
from netid.accounts.service import AccountService
from netid.config import Settings
from netid.container import Container
from netid.core.clock import FixedClock
from netid.core.errors import NetidError
from netid.registry.schemas import parse_record
from netid.web.app import create_app
from tests.conftest import Backend
from tests.registry.factories import TODAY, person_record

T = TypeVar("T")
ACTOR = "operator:test"
NOW = dt.datetime(2026, 11, 22, 4, 0, tzinfo=dt.UTC)  # 12:00 in China, on TODAY
PASSWORD = "correct horse battery"
OTP_RE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


@dataclass
class World:
    container: Container
    clock: FixedClock
    records: dict[str, dict[str, Any]] = field(default_factory=dict)

    def http(self) -> TestClient:
        return TestClient(create_app(self.container))

    def number(self, who: str) -> str:
        return str(self.records[who]["documents"][0]["number"])

    def phone(self, who: str) -> str:
        return str(self.records[who]["phones"][0])

    def person_id(self, who: str) -> str:
        with self.container.transaction(write=False) as session:
            found = self.container.registry(session).find_person_id(self.number(who))
        assert found is not None
        return found

    def run(self, work: Callable[[AccountService], T]) -> T:
        """``work`` in one transaction, as a request does: a Refusal commits its traces,
        then its error is raised."""
        failure: NetidError | None = None
        with self.container.transaction() as session:
            try:
                return work(self.container.accounts(session))
            except Refusal as refusal:
                failure = refusal.error
        assert failure is not None
        raise failure

    # -- SMS ---------------------------------------------------------------------------------
    def messages(self) -> list[Any]:
        with self.container.transaction() as session:
            return list(self.container.outbox(session).list(1000, actor=ACTOR, show_phone=True))

    def last_code(self, phone: str | None = None) -> str:
        found = [m for m in self.messages() if phone is None or m.phone == phone]
        assert found, "no SMS sent"
        match = OTP_RE.search(found[0].text)
        assert match is not None
        return match.group(1)

    def sms_count(self) -> int:
        return len(self.messages())

    # -- flows ----------------------------------------------------------------------------------
    def set_password(self, who: str, password: str = PASSWORD) -> None:
        started = self.run(lambda s: s.start_setup(self.number(who)))
        code = self.last_code(self.phone(who))
        self.run(lambda s: s.finish_setup(started.setup_id, code, password))

    def actions(self, prefix: str = "accounts.") -> list[tuple[str, str]]:
        from netid.audit.models import AccessRecord

        with self.container.transaction(write=False) as session:
            rows = session.execute(
                select(AccessRecord.action, AccessRecord.outcome).order_by(AccessRecord.log_index)
            ).all()
        return [(a, o) for a, o in rows if a.startswith(prefix)]


def make_world(settings: Settings, db: Backend) -> World:
    clock = FixedClock(NOW)
    container = Container(settings, engine=db.engine, clock=clock)
    with container.transaction() as session:
        container.keyring_service(session).initialise()
    world = World(container=container, clock=clock)
    rng = random.Random(6)
    alice = person_record(rng, name="欧阳·娜娜", sex="F", birth=dt.date(1990, 3, 7))
    bob = person_record(rng, name="周杰", birth=dt.date(1979, 1, 18))
    nophone = person_record(rng, name="林美华", sex="F", birth=dt.date(1985, 4, 2))
    nophone["phones"] = []
    revoked = person_record(rng, name="王芳", sex="F", birth=dt.date(1992, 8, 8))
    revoked["documents"][0]["status"] = "revoked"
    deceased = person_record(rng, name="赵强", birth=dt.date(1950, 5, 1))
    deceased["status"], deceased["death_date"] = "deceased", "2020-01-01"
    world.records = {
        "alice": alice,
        "bob": bob,
        "nophone": nophone,
        "revoked": revoked,
        "deceased": deceased,
    }
    rows = [(i, parse_record(r, today=TODAY)) for i, r in enumerate(world.records.values(), 1)]
    with container.registry_unit() as registry:
        outcome = registry.import_batch(rows, actor=ACTOR)
    assert outcome.imported == len(rows), outcome.rejections
    return world


# A valid resident ID number that nobody in the world holds (GB 11643 check digit correct).
def unregistered_number() -> str:
    from netid.documents import synth

    return str(
        synth.resident_id(
            random.Random(99), birth_date=dt.date(1988, 8, 8), sex="M", region_code="110105"
        )  # type: ignore[arg-type]
    )
