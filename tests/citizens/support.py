"""A small registry (an adult, a mother and her child) and a citizen service for the service
tests. The accounts side (netid.enrolment) is a recording stand-in here: the service tests
pin the citizen controls' own rules; tests/citizens/test_api.py runs them over the real
enrolment service and HTTP."""

from __future__ import annotations

import datetime as dt
import queue
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from netid.citizens.repository import CitizenRepository
from netid.citizens.schemas import Citizen
from netid.citizens.service import CitizenService
from netid.container import Container
from netid.credentials.network_id import format_network_id, new_network_id
from netid.crypto.sealing import SealKey, generate_seal_key
from netid.enrolment.schemas import PendingWardEnrolment
from netid.policy.schemas import AGE_MARKERS, PLAINTEXT_CLAIMS
from netid.registry.schemas import parse_record
from tests.registry.factories import TODAY, mother_and_child, person_record

ACTOR = "operator:test"


@dataclass
class StubAccounts:
    """What netid.enrolment answers, held in memory, with every call written down."""

    net_ids: dict[str, str] = field(default_factory=dict)
    keys: dict[str, SealKey] = field(default_factory=dict)
    guardians: dict[str, list[str]] = field(default_factory=dict)
    pending: dict[str, list[PendingWardEnrolment]] = field(default_factory=dict)
    calls: list[tuple[str, Any]] = field(default_factory=list)

    def enrol(self, person_id: str) -> None:
        self.net_ids[person_id] = new_network_id()
        self.keys[person_id] = generate_seal_key()

    def guardian_ids(self, ward_person_id: str) -> list[str]:
        return [g for g in self.guardians.get(ward_person_id, []) if g in self.keys]

    def network_id_of(self, person_id: str) -> str | None:
        nid = self.net_ids.get(person_id)
        return format_network_id(nid) if nid else None

    def account_key(self, person_id: str) -> SealKey | None:
        return self.keys.get(person_id)

    def set_credential_suspended(self, person_id: str, suspended: bool) -> int:
        self.calls.append(("suspend", (person_id, suspended)))
        return 1

    def revoke_credentials(self, person_id: str, *, reason: str, actor: str) -> int:
        self.calls.append(("revoke", (person_id, reason)))
        return 1

    def unsafe_erase_account(self, person_id: str, *, actor: str) -> None:
        self.calls.append(("erase", person_id))
        self.keys.pop(person_id, None)

    def pending_guardian_enrolments(self, guardian_person_id: str) -> list[PendingWardEnrolment]:
        return list(self.pending.get(guardian_person_id, []))

    def approve_enrolment_as_guardian(
        self, enrolment_id: str, guardian_person_id: str, *, actor: str
    ) -> None:
        self.calls.append(("approve_enrolment", (enrolment_id, guardian_person_id)))

    def deny_enrolment_as_guardian(
        self, enrolment_id: str, guardian_person_id: str, *, actor: str
    ) -> None:
        self.calls.append(("deny_enrolment", (enrolment_id, guardian_person_id)))


def citizen_service(
    container: Container, session: Session, accounts: StubAccounts
) -> CitizenService:
    """Wired like Container.citizens, with the stand-in accounts."""
    return CitizenService(
        repository=CitizenRepository(session),
        registry=container.registry(session),
        accounts=accounts,
        consents=container.consents(session),
        institutions=container.institutions(session),
        audit=container.audit(session),
        recorder=container.recorder(session),
        clock=container.clock,
        allowed_claims=frozenset(PLAINTEXT_CLAIMS) | frozenset(AGE_MARKERS),
        purpose_labels={c: i.zh for c, i in container.catalogue().purposes.items()},
        policy_url="https://netid.example/privacy",
    )


@dataclass
class Family:
    adult: str
    mother: str
    child: str
    child_birth: dt.date

    def citizen(self, who: str) -> Citizen:
        person_id: str = getattr(self, who)
        return Citizen(person_id=person_id, credential_id=f"cred{person_id[:28]}")


def load_family(container: Container, child_birth: dt.date, seed: int = 5) -> Family:
    rng = random.Random(seed)
    adult = person_record(rng, name="欧阳·娜娜", birth=dt.date(1990, 3, 7), sex="F")
    mother, child = mother_and_child(rng, "王芳", "李小龙", child_birth)
    records = [adult, mother, child]
    with container.registry_unit() as registry:
        outcome = registry.import_batch(
            [(i, parse_record(r, today=TODAY)) for i, r in enumerate(records, 1)], actor=ACTOR
        )
        assert outcome.imported == 3, outcome.rejections
        ids = [registry.find_person_id(r["documents"][0]["number"]) for r in records]
    assert all(ids)
    return Family(
        adult=ids[0] or "", mother=ids[1] or "", child=ids[2] or "", child_birth=child_birth
    )


def stub_accounts(family: Family) -> StubAccounts:
    accounts = StubAccounts()
    for person_id in (family.adult, family.mother, family.child):
        accounts.enrol(person_id)
    accounts.guardians[family.child] = [family.mother]
    return accounts


class Worker(threading.Thread):
    """One unit of work in a thread of its own, on PostgreSQL: it reports its backend pid
    first, so the test can wait until it is blocked on a row lock held by the test's open
    transaction (no sleeps: the race is made to happen, not hoped for)."""

    def __init__(
        self,
        container: Container,
        accounts: StubAccounts,
        work: Callable[[CitizenService], object],
    ) -> None:
        super().__init__(daemon=True)
        self._container, self._accounts, self._work = container, accounts, work
        self._pid: queue.Queue[int] = queue.Queue()
        self.result: object = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with self._container.transaction() as session:
                self._pid.put(int(session.execute(text("SELECT pg_backend_pid()")).scalar_one()))
                self.result = self._work(citizen_service(self._container, session, self._accounts))
        except BaseException as exc:  # the test reads it
            self.error = exc

    def wait_until_blocked(self, engine: Engine, timeout: float = 30.0) -> None:
        pid = self._pid.get(timeout=timeout)
        deadline = time.monotonic() + timeout
        with engine.connect() as conn:
            while time.monotonic() < deadline:
                blockers = conn.execute(
                    text("SELECT cardinality(pg_blocking_pids(:pid))"), {"pid": pid}
                ).scalar_one()
                if blockers:
                    return
                if not self.is_alive():
                    raise AssertionError(f"the worker finished without waiting: {self.error!r}")
                conn.rollback()
                time.sleep(0.01)
        raise AssertionError("the worker never waited for the lock")
