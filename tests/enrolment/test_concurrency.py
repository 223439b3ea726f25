"""Two requests at once: status-list slots, PIN counts, device proofs, one person's identity.

Each test holds the first transaction right after it took a row lock (a repository method is
wrapped to wait there), starts the second and, on PostgreSQL, waits until the second is
blocked on a lock (``pg_stat_activity``), then lets the first go. So the interleaving is the
dangerous one every time, not by luck. On SQLite every writer holds the database lock for its
whole transaction (BEGIN IMMEDIATE), so the second simply runs after the first.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select, text

from netid.config import Settings
from netid.enrolment import models as m
from netid.enrolment.errors import PinInvalid, ProofInvalid, Refusal
from netid.enrolment.repository import EnrolmentRepository
from netid.enrolment.service import EnrolmentService
from tests.conftest import Backend
from tests.enrolment.support import ACTOR, PIN, Device, World, make_world

pytestmark = pytest.mark.db

WAIT = 30.0  # seconds: a bound for a hung test, never an assertion about speed


@pytest.fixture
def world(settings: Settings, db: Backend) -> World:
    return make_world(settings, db)


@dataclass
class Outcome:
    value: Any = None
    error: BaseException | None = None
    pid: int | None = None  # the PostgreSQL backend of the transaction


def _unit(world: World, work: Callable[[EnrolmentService], Any], out: Outcome) -> None:
    """One transaction as a route runs it (a Refusal commits its traces, then is raised)."""
    failure: Exception | None = None
    try:
        with world.container.transaction() as session:
            if session.get_bind().dialect.name == "postgresql":
                out.pid = session.connection().exec_driver_sql("select pg_backend_pid()").scalar()
            try:
                out.value = work(world.container.enrolment(session))
            except Refusal as refusal:
                failure = refusal.error
        if failure is not None:
            raise failure
    except BaseException as exc:  # handed to the test, which asserts on it
        out.error = exc


class Hold:
    """Stops the thread named ``first`` once, right after ``method`` returns (when ``when``
    accepts the call), until :meth:`release`."""

    def __init__(
        self,
        monkeypatch: pytest.MonkeyPatch,
        method: str,
        when: Callable[..., bool] = lambda *a, **k: True,
    ) -> None:
        self.reached, self._go = threading.Event(), threading.Event()
        original = getattr(EnrolmentRepository, method)
        hold = self

        def held(repo: EnrolmentRepository, *args: Any, **kwargs: Any) -> Any:
            result = original(repo, *args, **kwargs)
            if (
                threading.current_thread().name == "first"
                and not hold.reached.is_set()
                and when(*args, **kwargs)
            ):
                hold.reached.set()
                hold._go.wait(WAIT)
            return result

        monkeypatch.setattr(EnrolmentRepository, method, held)

    def release(self) -> None:
        self._go.set()


def _wait_until_blocked(world: World, out: Outcome) -> None:
    """On PostgreSQL: until the second transaction waits for a lock (fails if it never does:
    then the first held nothing it needs, and the test would prove nothing)."""
    engine = world.container.engine
    if engine.dialect.name != "postgresql":
        return
    deadline = time.monotonic() + WAIT
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            if out.pid is not None:
                waiting = conn.execute(
                    text("select wait_event_type from pg_stat_activity where pid = :pid"),
                    {"pid": out.pid},
                ).scalar()
                if waiting == "Lock":
                    return
            if out.error is not None:
                raise AssertionError(f"the second transaction failed: {out.error!r}")
            time.sleep(0.02)
    raise AssertionError("the second transaction never waited for the first one's lock")


def race(
    world: World,
    hold: Hold,
    first: Callable[[EnrolmentService], Any],
    second: Callable[[EnrolmentService], Any],
) -> tuple[Outcome, Outcome]:
    one, two = Outcome(), Outcome()
    t1 = threading.Thread(target=_unit, args=(world, first, one), name="first")
    t1.start()
    assert hold.reached.wait(WAIT), one.error
    t2 = threading.Thread(target=_unit, args=(world, second, two), name="second")
    t2.start()
    try:
        _wait_until_blocked(world, two)
    finally:
        hold.release()
        t1.join(WAIT)
        t2.join(WAIT)
    assert not t1.is_alive() and not t2.is_alive()
    return one, two


def _completion(world: World, who: str, device: Device, **proof: Any) -> tuple[str, Any]:
    """An enrolment of ``who`` ready to complete, and the work that completes it."""
    enrolment_id = world.until_ready(who, device)
    token = device.proof(f"{world.base}/v1/enrolments", nonce=enrolment_id, **proof)

    def work(service: EnrolmentService) -> Any:
        return service.complete(enrolment_id=enrolment_id, pin=PIN, proof=token)

    return enrolment_id, work


def _credentials(world: World) -> list[m.Credential]:
    with world.container.transaction(write=False) as session:
        rows = list(session.scalars(select(m.Credential)))
        session.expunge_all()
    return rows


# -- status-list slots -------------------------------------------------------------------------
def test_two_completions_at_once_never_share_a_status_list_slot(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A list with one free entry: the first completion takes it; the second waits for the
    list's lock, then finds it full and opens a new list (never the same slot)."""
    with world.container.transaction() as session:
        session.add(
            m.StatusList(id="0" * 16, bits=2, size=1, allocated=0, created_at=world.clock.now())
        )
    _, first = _completion(world, "adult", Device(world.clock))
    _, second = _completion(world, "stranger", Device(world.clock))

    def tiny(work: Callable[[EnrolmentService], Any]) -> Callable[[EnrolmentService], Any]:
        def run(service: EnrolmentService) -> Any:
            service._status_list_size = 1
            return work(service)

        return run

    hold = Hold(monkeypatch, "open_status_list")
    one, two = race(world, hold, tiny(first), tiny(second))
    assert one.error is None and two.error is None, (one.error, two.error)
    slots = {(c.status_list_id, c.status_index) for c in _credentials(world)}
    assert len(slots) == 2 and ("0" * 16, 0) in slots


def test_a_re_enrolment_and_a_first_enrolment_at_once_do_not_deadlock(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A re-enrolment records the revocation of the old credential (which locks the audit
    head until commit); it must not then wait for the status list that a first enrolment
    holds while that one waits for the audit head."""
    world.enrol("stranger", Device(world.clock))
    _, first = _completion(world, "adult", Device(world.clock))
    _, second = _completion(world, "stranger", Device(world.clock))
    hold = Hold(monkeypatch, "open_status_list")
    one, two = race(world, hold, first, second)
    assert one.error is None and two.error is None, (one.error, two.error)
    assert sorted(c.status for c in _credentials(world)) == ["active", "active", "revoked"]


# -- one person, two devices -------------------------------------------------------------------
def test_one_person_completing_on_two_devices_at_once_gets_one_network_id(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, first = _completion(world, "adult", Device(world.clock))
    _, second = _completion(world, "adult", Device(world.clock))
    hold = Hold(monkeypatch, "open_status_list")
    one, two = race(world, hold, first, second)
    assert one.error is None and two.error is None, (one.error, two.error)
    assert one.value.issued.network_id == two.value.issued.network_id
    assert world.count(m.NetworkIdentity) == 1
    # The second is a re-enrolment: the first device's credential is revoked.
    assert sorted(c.status for c in _credentials(world)) == ["active", "revoked"]


def test_deregistration_racing_a_re_enrolment_does_not_deadlock(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The re-enrolment holds the network identity, then revokes (credential rows, then the
    audit head); the deregistration must take the identity first too, or each waits for the
    other."""
    world.enrol("adult", Device(world.clock))
    person_id = world.person_id("adult")
    _, first = _completion(world, "adult", Device(world.clock))

    def deregister(service: EnrolmentService) -> None:
        service.revoke_credentials(person_id, reason="deregistered", actor=ACTOR)
        service.unsafe_erase_account(person_id, actor=ACTOR)

    hold = Hold(monkeypatch, "identity", when=lambda *a, **k: bool(k.get("for_update")))
    one, two = race(world, hold, first, deregister)
    assert one.error is None and two.error is None, (one.error, two.error)
    assert {c.status for c in _credentials(world)} == {"revoked"}  # the new one too


# -- device proofs -----------------------------------------------------------------------------
def test_a_proof_id_spent_by_a_concurrent_request_is_refused_cleanly(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One device key on two enrolments, two proofs with one jti, completed at once: the
    second is proof_invalid (recorded, its enrolment still ready), not a database error."""
    device = Device(world.clock)
    jti = "J" * 22
    _, first = _completion(world, "adult", device, jti=jti)
    second_id, second = _completion(world, "stranger", device, jti=jti)
    hold = Hold(monkeypatch, "open_status_list")
    one, two = race(world, hold, first, second)
    assert one.error is None, one.error
    assert isinstance(two.error, ProofInvalid), two.error
    assert ("enrolment.complete", "proof_invalid") in world.actions()
    assert world.count(m.Credential) == 1
    status = world.http.post("/v1/enrolments/status", json={"enrolment_id": second_id})
    assert status.json()["state"] == "ready"


# -- PIN lockout ---------------------------------------------------------------------------------
def test_two_wrong_pins_at_once_count_twice(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    device = Device(world.clock)
    issued = world.enrol("adult", device)
    cid = issued["credential_id"]
    proofs = [device.proof(f"{world.base}/v1/wallet") for _ in range(2)]

    def wrong(proof: str) -> Callable[[EnrolmentService], Any]:
        def run(service: EnrolmentService) -> Any:
            return service.create_session(credential_id=cid, pin="wrong-pin", proof=proof)

        return run

    hold = Hold(monkeypatch, "credential", when=lambda *a, **k: bool(k.get("for_update")))
    one, two = race(world, hold, wrong(proofs[0]), wrong(proofs[1]))
    assert isinstance(one.error, PinInvalid) and isinstance(two.error, PinInvalid)
    assert {one.error.details["tries_left"], two.error.details["tries_left"]} == {4, 3}
    (credential,) = _credentials(world)
    assert credential.failed_pins == 2
