"""The citizen controls at the service level, on both backends: locks and temporary unlocks,
requests (one pending per subject, approve, deny, expiry), consent receipts and revocation,
guardian approvals consumed exactly once, minors whose rules change on their birthday,
history with proofs, deregistration."""

from __future__ import annotations

import base64
import datetime as dt
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from sqlalchemy import select

from netid.audit.service import tree_hasher
from netid.citizens.errors import (
    ConsentDaysInvalid,
    MethodUnknown,
    NetworkIdMismatch,
    RequestExpired,
    RequestNotFound,
    RequestNotPending,
    TemporaryUnlockUnsupported,
    UnlockMinutesInvalid,
)
from netid.citizens.models import CitizenRequest, MethodLock
from netid.citizens.schemas import Citizen
from netid.citizens.service import CitizenService
from netid.config import Settings
from netid.consent.errors import ConsentNotFound
from netid.container import Container
from netid.core.clock import CHINA_TZ, FixedClock
from netid.crypto.merkle import verify_inclusion
from netid.enrolment.schemas import PendingWardEnrolment
from netid.institutions.schemas import InstitutionView
from tests.citizens.support import (
    Family,
    StubAccounts,
    Worker,
    citizen_service,
    load_family,
    stub_accounts,
)
from tests.conftest import Backend
from tests.verification.support import approved

pytestmark = pytest.mark.db

T = TypeVar("T")
START = dt.datetime(2026, 11, 22, 4, 0, tzinfo=dt.UTC)  # 12:00 in China


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def timed(settings: Settings, db: Backend, clock: FixedClock) -> Container:
    c = Container(settings, clock=clock, engine=db.engine)
    with c.transaction() as session:
        c.keyring_service(session).initialise()
    return c


@pytest.fixture
def family(timed: Container) -> Family:
    return load_family(timed, child_birth=dt.date(2016, 5, 1))  # ten years old


@pytest.fixture
def accounts(family: Family) -> StubAccounts:
    return stub_accounts(family)


@pytest.fixture
def bank(timed: Container) -> InstitutionView:
    return approved(timed, industry="banking_finance", purposes=["account_opening", "payment"])


@pytest.fixture
def run(timed: Container, accounts: StubAccounts) -> Callable[[Callable[[CitizenService], T]], T]:
    """Run one unit of work with a fresh service (as one request would)."""

    def go(work: Callable[[CitizenService], T]) -> T:
        with timed.transaction() as session:
            return work(citizen_service(timed, session, accounts))

    return go


Run = Callable[[Callable[[CitizenService], Any]], Any]


def open_consent(
    run: Run, person_id: str, bank: InstitutionView, claims: list[str] | None = None
) -> str:
    assert bank.code
    return str(
        run(
            lambda s: s.open_consent_request(
                person_id=person_id,
                institution_id=bank.id,
                institution_code=bank.code or "",
                institution_name=bank.name,
                purpose="account_opening",
                claims=claims or ["name", "document_number"],
                verification_id="v" * 32,
            )
        )
    )


def open_use(run: Run, ward: str, bank: InstitutionView) -> str:
    return str(
        run(
            lambda s: s.open_guardian_use_request(
                ward_person_id=ward,
                institution_id=bank.id,
                institution_code=bank.code or "",
                purpose="account_opening",
                verification_id="w" * 32,
            )
        )
    )


def entries(timed: Container) -> list[dict[str, Any]]:
    with timed.transaction(write=False) as session:
        audit = timed.audit(session)
        size = audit.status().size
        return [audit.entry(i)["entry"] for i in range(size)]


# -- locks ------------------------------------------------------------------------------------
def test_lock_and_unlock_each_method(run: Run, family: Family, accounts: StubAccounts) -> None:
    me = family.citizen("adult")
    assert not run(lambda s: s.is_locked(me.person_id, "qr"))
    view = run(lambda s: s.lock(me, "qr"))
    assert view.locked
    assert run(lambda s: s.is_locked(me.person_id, "qr"))
    assert not run(lambda s: s.is_locked(me.person_id, "document"))  # one method at a time
    run(lambda s: s.lock(me, "credential"))
    assert ("suspend", (me.person_id, True)) in accounts.calls
    locks = {v.method: v.locked for v in run(lambda s: s.locks(me))}
    assert locks == {"document": False, "qr": True, "credential": True}
    run(lambda s: s.unlock(me, "qr"))
    run(lambda s: s.unlock(me, "credential"))
    assert ("suspend", (me.person_id, False)) in accounts.calls
    assert not run(lambda s: s.is_locked(me.person_id, "qr"))
    assert not run(lambda s: s.is_locked(me.person_id, "credential"))


def test_temporary_unlock_ends_by_itself_at_the_minute(
    run: Run, family: Family, clock: FixedClock
) -> None:
    me = family.citizen("adult")
    run(lambda s: s.lock(me, "document"))
    view = run(lambda s: s.unlock(me, "document", minutes=5))
    assert not view.locked
    assert view.unlocked_until == START + dt.timedelta(minutes=5)
    clock.advance(dt.timedelta(minutes=5) - dt.timedelta(microseconds=1))
    assert not run(lambda s: s.is_locked(me.person_id, "document"))
    clock.advance(dt.timedelta(microseconds=1))
    assert run(lambda s: s.is_locked(me.person_id, "document"))
    listed = {v.method: v for v in run(lambda s: s.locks(me))}
    assert listed["document"].locked
    assert listed["document"].unlocked_until is None


def test_lock_inputs_are_checked(
    run: Run, timed: Container, family: Family, accounts: StubAccounts
) -> None:
    me = family.citizen("adult")
    for minutes in (0, 1441, -3):
        with pytest.raises(UnlockMinutesInvalid), timed.transaction() as session:
            citizen_service(timed, session, accounts).unlock(me, "qr", minutes=minutes)
    with pytest.raises(TemporaryUnlockUnsupported):
        run(lambda s: s.unlock(me, "credential", minutes=10))
    with pytest.raises(MethodUnknown):
        run(lambda s: s.lock(me, "face"))
    # A temporary unlock of an unlocked method leaves it unlocked (and says so).
    assert not run(lambda s: s.unlock(me, "qr", minutes=30)).locked
    assert not run(lambda s: s.is_locked(me.person_id, "qr"))


# -- consent requests ---------------------------------------------------------------------------
def test_one_pending_request_per_subject_then_approved_into_a_consent(
    run: Run, timed: Container, family: Family, bank: InstitutionView
) -> None:
    me = family.citizen("adult")
    first = open_consent(run, me.person_id, bank)
    assert open_consent(run, me.person_id, bank, ["document_number", "name"]) == first
    other = open_consent(run, me.person_id, bank, ["name"])  # another claim set: another one
    assert other != first
    listed = run(lambda s: s.pending_requests(me))
    assert [r["id"] for r in listed] == [first, other]
    assert listed[0]["claims"] == ["document_number", "name"]
    assert listed[0]["institution_name"] == bank.name
    assert listed[0]["about"] == "self"
    with pytest.raises(ConsentDaysInvalid):
        run(lambda s: s.approve(me, first, days=0))
    answer = run(lambda s: s.approve(me, first, days=7))
    assert answer["state"] == "approved"
    with timed.transaction(write=False) as session:
        consents = timed.consents(session)
        assert consents.granted_claims(me.person_id, bank.id, "account_opening") == {
            "name",
            "document_number",
        }
        view = consents.get(answer["consent_id"])
        assert view is not None
        assert view.channel == "wallet"
        assert view.expires_at == START + dt.timedelta(days=7)
    with pytest.raises(RequestNotPending):
        run(lambda s: s.approve(me, first))
    assert [r["id"] for r in run(lambda s: s.pending_requests(me))] == [other]
    # Decided, so the next verification that lacks consent opens a new request.
    assert open_consent(run, me.person_id, bank) not in (first, other)
    opened = [e for e in entries(timed) if e["action"] == "citizen.request.open"]
    assert [e["outcome"] for e in opened] == ["opened", "pending", "opened", "opened"]
    assert opened[0]["actor"] == f"institution:{bank.code}"


def test_a_denial_is_recorded_and_grants_nothing(
    run: Run, timed: Container, family: Family, bank: InstitutionView
) -> None:
    me = family.citizen("adult")
    request_id = open_consent(run, me.person_id, bank)
    assert run(lambda s: s.deny(me, request_id))["state"] == "denied"
    with timed.transaction(write=False) as session:
        assert not timed.consents(session).granted_claims(me.person_id, bank.id, "account_opening")
    denial = [e for e in entries(timed) if e["action"] == "citizen.request.deny"]
    assert len(denial) == 1
    assert denial[0]["details"]["request_id"] == request_id
    assert denial[0]["details"]["institution_id"] == bank.id


def test_someone_else_cannot_see_or_decide_my_request(
    run: Run, family: Family, bank: InstitutionView
) -> None:
    request_id = open_consent(run, family.adult, bank)
    stranger = family.citizen("mother")
    assert run(lambda s: s.pending_requests(stranger)) == []
    with pytest.raises(RequestNotFound):
        run(lambda s: s.approve(stranger, request_id))
    with pytest.raises(RequestNotFound):
        run(lambda s: s.deny(stranger, "0" * 32))


def test_a_consent_request_expires_after_a_day(
    run: Run, family: Family, bank: InstitutionView, clock: FixedClock
) -> None:
    me = family.citizen("adult")
    request_id = open_consent(run, me.person_id, bank)
    clock.advance(dt.timedelta(hours=24) - dt.timedelta(seconds=1))
    assert [r["id"] for r in run(lambda s: s.pending_requests(me))] == [request_id]
    clock.advance(dt.timedelta(seconds=1))
    with pytest.raises(RequestExpired):
        run(lambda s: s.approve(me, request_id))
    assert run(lambda s: s.pending_requests(me)) == []
    assert open_consent(run, me.person_id, bank) != request_id


def test_revocation_acts_on_the_next_request_and_receipts_say_so(
    run: Run, timed: Container, family: Family, bank: InstitutionView, accounts: StubAccounts
) -> None:
    me = family.citizen("adult")
    request_id = open_consent(run, me.person_id, bank, ["name", "document_number"])
    consent_id = run(lambda s: s.approve(me, request_id))["consent_id"]
    [listed] = run(lambda s: s.consent_receipts(me))
    assert listed["state"] == "live"
    # The record's time and expiry, machine-readable (KI-CR v1.1 only has termination text).
    assert listed["granted_at"] == START.isoformat()
    assert listed["expires_at"] == (START + dt.timedelta(days=30)).isoformat()
    assert listed["revoked_at"] is None
    receipt = listed["receipt"]
    assert receipt["version"] == "KI-CR-v1.1.0"
    assert receipt["jurisdiction"] == "CN"
    assert receipt["consentReceiptID"] == consent_id
    assert receipt["consentTimestamp"] == int(START.timestamp())
    assert receipt["piiPrincipalId"] == accounts.network_id_of(me.person_id)
    assert receipt["piiControllers"][0]["piiController"] == bank.name
    [service] = receipt["services"]
    assert service["service"] == "account_opening"
    [purpose] = service["purposes"]
    assert purpose["piiCategory"] == ["document_number", "name"]
    assert purpose["consentType"] == "EXPLICIT"
    assert (START + dt.timedelta(days=30)).isoformat() in purpose["termination"]
    assert receipt["sensitive"] is True  # document_number (PIPL art. 28)
    assert receipt["spiCat"] == ["document_number"]

    revoked = run(lambda s: s.revoke_consent(me, consent_id))
    assert revoked["state"] == "revoked"
    assert revoked["revoked_at"] == START.isoformat()
    with timed.transaction(write=False) as session:
        assert not timed.consents(session).granted_claims(me.person_id, bank.id, "account_opening")
    with pytest.raises(ConsentNotFound):
        run(lambda s: s.revoke_consent(family.citizen("mother"), consent_id))


def test_a_receipt_without_sensitive_claims_is_not_sensitive(
    run: Run, family: Family, bank: InstitutionView
) -> None:
    me = family.citizen("adult")
    request_id = open_consent(run, me.person_id, bank, ["name", "age_over_18"])
    run(lambda s: s.approve(me, request_id))
    [listed] = run(lambda s: s.consent_receipts(me))
    assert listed["receipt"]["sensitive"] is False
    assert listed["receipt"]["spiCat"] == []


# -- minors ---------------------------------------------------------------------------------------
def test_a_childs_consent_goes_to_the_guardian(
    run: Run, timed: Container, family: Family, bank: InstitutionView
) -> None:
    child, mother = family.citizen("child"), family.citizen("mother")
    request_id = open_consent(run, family.child, bank)
    assert run(lambda s: s.pending_requests(child)) == []  # PIPL art. 31: under 14
    [seen] = run(lambda s: s.pending_requests(mother))
    assert seen["about"] == "ward"
    with pytest.raises(RequestNotFound):
        run(lambda s: s.approve(child, request_id))
    answer = run(lambda s: s.approve(mother, request_id))
    with timed.transaction(write=False) as session:
        view = timed.consents(session).get(answer["consent_id"])
        assert view is not None
    [record] = [e for e in entries(timed) if e["action"] == "citizen.request.approve"]
    assert record["details"]["by"] == "guardian"


def test_a_guardians_reading_of_ward_requests_is_in_the_wards_history(
    run: Run, family: Family, bank: InstitutionView
) -> None:
    request_id = open_consent(run, family.child, bank)
    run(lambda s: s.pending_requests(family.citizen("mother")))
    mine = run(lambda s: s.history(family.citizen("child")))["entries"]
    [read] = [e["entry"] for e in mine if e["entry"]["action"] == "citizen.requests.read"]
    assert read["actor"] == family.citizen("mother").actor
    assert read["details"] == {"by": "guardian", "request_ids": [request_id]}
    # The adult, a stranger to the child, sees none of it.
    theirs = run(lambda s: s.history(family.citizen("adult")))["entries"]
    assert request_id not in str(theirs)


def test_guardian_use_approval_allows_one_use_within_ten_minutes(
    run: Run, family: Family, bank: InstitutionView, clock: FixedClock
) -> None:
    mother = family.citizen("mother")

    def take() -> bool:
        return bool(
            run(lambda s: s.take_guardian_use_approval(family.child, bank.id, "account_opening"))
        )

    assert not take()
    request_id = open_use(run, family.child, bank)
    assert open_use(run, family.child, bank) == request_id
    [seen] = run(lambda s: s.pending_requests(mother))
    assert (seen["id"], seen["kind"], seen["about"]) == (request_id, "guardian_use", "ward")
    assert not take()  # pending is not approved
    run(lambda s: s.approve(mother, request_id))
    assert not run(
        lambda s: s.take_guardian_use_approval(family.child, bank.id, "payment")
    )  # another purpose
    assert take()
    assert not take()  # once

    # A second approval is good for ten minutes after it was given, not longer.
    second = open_use(run, family.child, bank)
    run(lambda s: s.approve(mother, second))
    clock.advance(dt.timedelta(minutes=10, seconds=1))
    assert not take()


def test_a_guardian_use_request_waits_ten_minutes(
    run: Run, family: Family, bank: InstitutionView, clock: FixedClock
) -> None:
    request_id = open_use(run, family.child, bank)
    clock.advance(dt.timedelta(minutes=10))
    with pytest.raises(RequestExpired):
        run(lambda s: s.approve(family.citizen("mother"), request_id))


def test_one_approval_is_consumed_exactly_once_under_concurrency(
    timed: Container, run: Run, family: Family, bank: InstitutionView, accounts: StubAccounts
) -> None:
    request_id = open_use(run, family.child, bank)
    run(lambda s: s.approve(family.citizen("mother"), request_id))
    results: list[bool] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def worker() -> None:
        try:
            start.wait()
            with timed.transaction() as session:
                service = citizen_service(timed, session, accounts)
                results.append(
                    service.take_guardian_use_approval(family.child, bank.id, "account_opening")
                )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(results) == [False] * 7 + [True]


def test_two_guardians_one_decision(
    run: Run, timed: Container, family: Family, bank: InstitutionView, accounts: StubAccounts
) -> None:
    # The adult is made the child's second guardian (in the stand-in: who is enrolled and
    # linked comes from netid.enrolment; the registry link is checked too, so add it there).
    from netid.registry.models import GuardianLink

    with timed.transaction() as session:
        session.add(
            GuardianLink(
                id="f" * 32,
                ward_id=family.child,
                guardian_id=family.adult,
                relation_sealed=b"x",
                created_at=START,
            )
        )
    accounts.guardians[family.child] = [family.mother, family.adult]
    request_id = open_use(run, family.child, bank)
    mine = run(lambda s: s.pending_requests(family.citizen("mother")))
    theirs = run(lambda s: s.pending_requests(family.citizen("adult")))
    assert [r["kind"] for r in mine] == [r["kind"] for r in theirs] == ["guardian_use"]
    run(lambda s: s.approve(family.citizen("adult"), theirs[0]["id"]))
    assert run(lambda s: s.pending_requests(family.citizen("mother"))) == []
    with pytest.raises(RequestNotPending):
        run(lambda s: s.approve(family.citizen("mother"), mine[0]["id"]))
    assert run(lambda s: s.take_guardian_use_approval(family.child, bank.id, "account_opening"))
    assert not run(lambda s: s.take_guardian_use_approval(family.child, bank.id, "account_opening"))
    assert request_id in (mine[0]["id"], theirs[0]["id"])


@pytest.fixture
def turning_14(timed: Container, clock: FixedClock) -> Family:
    # The child turns 14 on 2026-11-23 (China time); the clock stands one second before.
    clock.advance(
        dt.datetime(2026, 11, 22, 23, 59, 59, tzinfo=CHINA_TZ) - START.astimezone(CHINA_TZ)
    )
    return load_family(timed, child_birth=dt.date(2012, 11, 23), seed=9)


def test_the_rules_change_on_the_14th_birthday_by_themselves(
    timed: Container, turning_14: Family, clock: FixedClock, bank: InstitutionView
) -> None:
    family = turning_14
    accounts = stub_accounts(family)

    def run(work: Callable[[CitizenService], T]) -> T:
        with timed.transaction() as session:
            return work(citizen_service(timed, session, accounts))

    child, mother = family.citizen("child"), family.citizen("mother")
    consent_request = open_consent(run, family.child, bank)
    use_request = open_use(run, family.child, bank)
    # 13 years old: the mother decides both; the child sees nothing.
    assert {r["id"] for r in run(lambda s: s.pending_requests(mother))} == {
        consent_request,
        use_request,
    }
    assert run(lambda s: s.pending_requests(child)) == []

    clock.advance(dt.timedelta(seconds=1))  # 00:00 on the birthday, China time
    assert run(lambda s: s.age(family.child)) == 14
    assert run(lambda s: s.pending_requests(mother)) == []
    with pytest.raises(RequestNotFound):
        run(lambda s: s.approve(mother, use_request))
    [own] = run(lambda s: s.pending_requests(child))
    assert (own["id"], own["about"]) == (consent_request, "self")
    run(lambda s: s.approve(child, consent_request))
    # A new request now goes to the child, not the guardian.
    second = open_consent(run, family.child, bank, ["name"])
    assert [r["id"] for r in run(lambda s: s.pending_requests(child))] == [second]
    assert run(lambda s: s.pending_requests(mother)) == []


def test_ward_enrolments_are_listed_for_the_guardian_until_the_ward_is_18(
    run: Run, family: Family, accounts: StubAccounts
) -> None:
    mother = family.citizen("mother")
    accounts.pending[family.mother] = [
        PendingWardEnrolment(
            enrolment_id="e" * 32,
            ward_person_id=family.child,
            ward_name_masked="李**",
            requested_at=START,
            expires_at=START + dt.timedelta(days=7),
        )
    ]
    [listed] = run(lambda s: s.pending_requests(mother))
    assert (listed["id"], listed["kind"], listed["ward_name"]) == (
        "e" * 32,
        "guardian_enrolment",
        "李**",
    )
    assert run(lambda s: s.approve(mother, "e" * 32))["state"] == "approved"
    assert ("approve_enrolment", ("e" * 32, family.mother)) in accounts.calls
    assert run(lambda s: s.deny(mother, "e" * 32))["state"] == "denied"
    with pytest.raises(RequestNotFound):
        run(lambda s: s.approve(family.citizen("adult"), "e" * 32))


# -- history ------------------------------------------------------------------------------------
def test_history_has_my_entries_with_proofs_that_verify(
    run: Run, timed: Container, family: Family, bank: InstitutionView
) -> None:
    me = family.citizen("adult")
    run(lambda s: s.lock(me, "qr"))  # wallet side: under the account key
    open_consent(run, me.person_id, bank)  # institution side: under the registry key
    open_consent(run, family.mother, bank)  # someone else's
    empty = run(lambda s: s.history(me))
    assert empty["checkpoint"] is None
    assert all(e["inclusion_proof"] is None for e in empty["entries"])
    with timed.transaction() as session:
        cut = timed.audit(session).cut_checkpoint()
    assert cut is not None
    found = run(lambda s: s.history(me))
    actions = [e["entry"]["action"] for e in found["entries"]]
    # Newest first; the first self-query is there, this one is recorded after it ran.
    assert actions[:3] == ["citizen.history", "citizen.request.open", "citizen.lock"]
    assert "registry.import" not in actions
    checkpoint = found["checkpoint"]
    assert checkpoint["tree_size"] == cut.tree_size
    with timed.transaction(write=False) as session:
        audit = timed.audit(session)
        opened = audit.open_checkpoint(checkpoint["note"])
        hasher = tree_hasher(audit.status().hash_alg)
    assert opened.size == cut.tree_size
    root = base64.b64decode(checkpoint["root_hash"])
    assert root == opened.root
    for entry in found["entries"]:
        proof = entry["inclusion_proof"]
        assert proof is not None
        assert verify_inclusion(
            hasher,
            entry["index"],
            proof["tree_size"],
            base64.b64decode(entry["leaf_hash"]),
            [base64.b64decode(h) for h in proof["hashes"]],
            root,
        )
    again = run(lambda s: s.history(me))
    newest = again["entries"][0]
    assert newest["entry"]["action"] == "citizen.history"
    assert newest["inclusion_proof"] is None  # not yet under a checkpoint


# -- deregistration -----------------------------------------------------------------------------
def test_deregistration_needs_my_network_id_and_ends_everything(
    run: Run, timed: Container, family: Family, bank: InstitutionView, accounts: StubAccounts
) -> None:
    me = family.citizen("adult")
    network_id = accounts.network_id_of(me.person_id)
    assert network_id is not None
    first = open_consent(run, me.person_id, bank)
    consent_id = run(lambda s: s.approve(me, first))["consent_id"]
    pending = open_consent(run, me.person_id, bank, ["name"])
    others = open_consent(run, family.mother, bank, ["name"])
    run(lambda s: s.lock(me, "qr"))
    run(lambda s: s.lock(me, "document"))
    other = accounts.network_id_of(family.mother)
    assert other is not None
    with pytest.raises(NetworkIdMismatch):
        run(lambda s: s.deregister(me, other))
    assert accounts.keys.get(me.person_id) is not None

    answer = run(lambda s: s.deregister(me, network_id.replace("-", "").lower()))
    assert answer["consents_deleted"] == 1
    assert answer["requests_deleted"] == 2  # the decided one and the pending one
    assert ("revoke", (me.person_id, "deregistered")) in accounts.calls
    assert ("erase", me.person_id) in accounts.calls
    with timed.transaction(write=False) as session:
        # Issue 5 §10: the consents the platform collected are deleted, not kept as revoked.
        assert timed.consents(session).get(consent_id) is None
        assert timed.consents(session).of_person(me.person_id) == []
        assert (
            session.scalars(
                select(CitizenRequest).where(CitizenRequest.person_id == me.person_id)
            ).all()
            == []
        )
        assert session.get(MethodLock, (me.person_id, "qr")) is None
        # Someone else's consent request is untouched.
        assert (
            session.scalars(select(CitizenRequest).where(CitizenRequest.group_id == others))
            .one()
            .state
            == "pending"
        )
    assert pending != first
    assert not run(lambda s: s.is_locked(me.person_id, "qr"))
    assert run(lambda s: s.is_locked(me.person_id, "document"))  # protects the identity
    [record] = [e for e in entries(timed) if e["action"] == "citizen.deregister"]
    assert record["details"] == {"consents_deleted": 1, "requests_deleted": 2}
    [deleted] = [e for e in entries(timed) if e["action"] == "consent.delete_all"]
    assert deleted["details"] == {"consent_ids": [consent_id]}
    with timed.transaction() as session:
        timed.audit(session).cut_checkpoint()
    with timed.transaction(write=False) as session:
        assert timed.audit(session).verify().findings == []


class FailingErase(StubAccounts):
    def unsafe_erase_account(self, person_id: str, *, actor: str) -> None:
        raise RuntimeError("the enrolment side failed")


def test_a_deregistration_that_fails_half_way_changes_nothing(
    timed: Container, run: Run, family: Family, bank: InstitutionView, accounts: StubAccounts
) -> None:
    me = family.citizen("adult")
    first = open_consent(run, me.person_id, bank)
    consent_id = run(lambda s: s.approve(me, first))["consent_id"]
    pending = open_consent(run, me.person_id, bank, ["name"])
    run(lambda s: s.lock(me, "qr"))
    before = len(entries(timed))
    failing = FailingErase(net_ids=accounts.net_ids, keys=accounts.keys)
    network_id = accounts.network_id_of(me.person_id) or ""
    with pytest.raises(RuntimeError), timed.transaction() as session:
        citizen_service(timed, session, failing).deregister(me, network_id)
    with timed.transaction(write=False) as session:
        view = timed.consents(session).get(consent_id)
        assert view is not None and view.revoked_at is None
        row = session.scalars(
            select(CitizenRequest).where(CitizenRequest.group_id == pending)
        ).one()
        assert row.state == "pending"
    assert run(lambda s: s.is_locked(me.person_id, "qr"))
    assert len(entries(timed)) == before  # nothing recorded either: no entry, no action


def test_revoking_a_consent_without_a_registry_record_is_consent_not_found(run: Run) -> None:
    ghost = Citizen(person_id="0" * 32, credential_id="c" * 32)
    with pytest.raises(ConsentNotFound):
        run(lambda s: s.revoke_consent(ghost, "1" * 32))


# -- races on PostgreSQL (SQLite has one writer at a time: BEGIN IMMEDIATE) ----------------------
def _postgresql_only(db: Backend) -> None:
    if db.name != "postgresql":
        pytest.skip("row-lock races: SQLite serialises writers")


def test_two_locks_at_once_do_not_collide(
    timed: Container, db: Backend, family: Family, accounts: StubAccounts, run: Run
) -> None:
    _postgresql_only(db)
    me = family.citizen("adult")
    other = Worker(timed, accounts, lambda s: s.lock(me, "qr"))
    with timed.transaction() as session:
        citizen_service(timed, session, accounts).lock(me, "qr")  # inserts, not committed
        other.start()
        other.wait_until_blocked(db.engine)  # its insert waits on the same primary key
    other.join()
    assert other.error is None, other.error  # not a duplicate-key error (a 500)
    assert run(lambda s: s.is_locked(me.person_id, "qr"))


def test_an_approval_during_deregistration_leaves_no_consent(
    timed: Container, db: Backend, family: Family, accounts: StubAccounts, bank: InstitutionView
) -> None:
    _postgresql_only(db)
    me = family.citizen("adult")
    run = _runner(timed, accounts)
    request_id = open_consent(run, me.person_id, bank)
    network_id = accounts.network_id_of(me.person_id) or ""
    leaving = Worker(timed, accounts, lambda s: s.deregister(me, network_id))
    with timed.transaction() as session:
        citizen_service(timed, session, accounts).approve(me, request_id)  # holds the request
        leaving.start()
        leaving.wait_until_blocked(db.engine)
    leaving.join()
    assert leaving.error is None, leaving.error
    with timed.transaction(write=False) as session:
        assert timed.consents(session).of_person(me.person_id) == []
        assert not timed.consents(session).granted_claims(me.person_id, bank.id, "account_opening")


def test_a_decision_waiting_on_a_deregistration_finds_no_request(
    timed: Container, db: Backend, family: Family, accounts: StubAccounts, bank: InstitutionView
) -> None:
    _postgresql_only(db)
    me = family.citizen("adult")
    run = _runner(timed, accounts)
    request_id = open_consent(run, me.person_id, bank)
    network_id = accounts.network_id_of(me.person_id) or ""
    deciding = Worker(timed, accounts, lambda s: s.approve(me, request_id))
    with timed.transaction() as session:
        citizen_service(timed, session, accounts).deregister(me, network_id)
        deciding.start()
        deciding.wait_until_blocked(db.engine)
    deciding.join()
    assert isinstance(deciding.error, RequestNotFound), deciding.error
    with timed.transaction(write=False) as session:
        assert timed.consents(session).of_person(me.person_id) == []


def _runner(timed: Container, accounts: StubAccounts) -> Run:
    def go(work: Callable[[CitizenService], Any]) -> Any:
        with timed.transaction() as session:
            return work(citizen_service(timed, session, accounts))

    return go


def test_a_guardian_approval_racing_on_postgresql_is_taken_once(
    timed: Container, db: Backend, family: Family, accounts: StubAccounts, bank: InstitutionView
) -> None:
    # The threaded test above may or may not interleave; this one makes the second taker wait
    # on the row the first has just updated, then re-check its WHERE after the commit.
    _postgresql_only(db)
    run = _runner(timed, accounts)
    request_id = open_use(run, family.child, bank)
    run(lambda s: s.approve(family.citizen("mother"), request_id))
    second = Worker(
        timed,
        accounts,
        lambda s: s.take_guardian_use_approval(family.child, bank.id, "account_opening"),
    )
    with timed.transaction() as session:
        service = citizen_service(timed, session, accounts)
        assert service.take_guardian_use_approval(family.child, bank.id, "account_opening")
        second.start()
        second.wait_until_blocked(db.engine)
    second.join()
    assert second.error is None, second.error
    assert second.result is False
