"""``/v1/me/*`` over HTTP: the real app, the real enrolment (chip, face, code, PIN, device
proof) and wallet sessions; requests are opened through the citizen service as the
verification use case opens them."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from netid.audit.service import tree_hasher
from netid.citizens.models import CitizenRequest, MethodLock
from netid.config import Settings
from netid.credentials import status_list as status_lists
from netid.crypto.merkle import verify_inclusion
from netid.enrolment import models as em
from netid.institutions.schemas import InstitutionView
from tests.conftest import Backend
from tests.enrolment.support import Device, World, make_world
from tests.verification.support import approved

pytestmark = pytest.mark.db


@pytest.fixture
def world(settings: Settings, db: Backend) -> World:
    return make_world(settings, db)


@pytest.fixture
def bank(world: World) -> InstitutionView:
    return approved(world.container, industry="banking_finance", purposes=["account_opening"])


class Wallet:
    """One enrolled person's wallet: device, credential, session."""

    def __init__(self, world: World, who: str, token: str | None = None) -> None:
        self.world = world
        self.device = Device(world.clock)
        self.issued = world.enrol(who, self.device, token=token)
        self.person_id = world.person_id(who)
        self.token = world.session(self.issued["credential_id"], self.device)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str) -> Any:
        return self.world.http.get(path, headers=self.headers)

    def post(self, path: str, body: Any = None) -> Any:
        return self.world.http.post(path, json=body, headers=self.headers)

    def delete(self, path: str, body: Any = None) -> Any:
        return self.world.http.request("DELETE", path, json=body, headers=self.headers)


def ok(answer: Any) -> Any:
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    return answer.json()


def refused(answer: Any, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code


def open_consent(world: World, person_id: str, bank: InstitutionView, claims: list[str]) -> str:
    with world.container.transaction() as session:
        return world.container.citizens(session).open_consent_request(
            person_id=person_id,
            institution_id=bank.id,
            institution_code=bank.code or "",
            institution_name=bank.name,
            purpose="account_opening",
            claims=claims,
            verification_id="a" * 32,
        )


def test_every_route_needs_a_wallet_session(world: World) -> None:
    for method, path in (
        ("GET", "/v1/me/history"),
        ("GET", "/v1/me/locks"),
        ("POST", "/v1/me/locks/qr"),
        ("DELETE", "/v1/me/locks/qr"),
        ("GET", "/v1/me/requests"),
        ("POST", f"/v1/me/requests/{'0' * 32}/approve"),
        ("POST", f"/v1/me/requests/{'0' * 32}/deny"),
        ("GET", "/v1/me/consents"),
        ("DELETE", f"/v1/me/consents/{'0' * 32}"),
        ("POST", "/v1/me/deregister"),
    ):
        answer = world.http.request(method, path, headers={"Authorization": "Bearer nope"})
        refused(answer, 401, "session_invalid")


def test_locks_and_the_credential_lock_in_the_status_list(world: World) -> None:
    me = Wallet(world, "adult")
    credential = me.issued["credential"]
    assert ok(me.get("/v1/me/locks"))["locks"] == [
        {"method": m, "locked": False, "unlocked_until": None, "updated_at": None}
        for m in ("document", "qr", "credential")
    ]
    assert ok(me.post("/v1/me/locks/credential"))["locked"] is True
    assert world.credential_status(credential) == status_lists.SUSPENDED
    refused(
        me.delete("/v1/me/locks/credential", {"minutes": 5}), 400, "temporary_unlock_unsupported"
    )
    assert ok(me.delete("/v1/me/locks/credential"))["locked"] is False
    assert world.credential_status(credential) == status_lists.VALID

    assert ok(me.post("/v1/me/locks/qr"))["locked"] is True
    unlocked = ok(me.delete("/v1/me/locks/qr", {"minutes": 15}))
    assert unlocked["locked"] is False
    assert unlocked["unlocked_until"] is not None
    with world.container.transaction() as session:
        assert not world.container.citizens(session).is_locked(me.person_id, "qr")

    world.clock.advance(dt.timedelta(minutes=15))
    me.token = world.session(me.issued["credential_id"], me.device)  # 15-min sessions
    with world.container.transaction() as session:
        assert world.container.citizens(session).is_locked(me.person_id, "qr")
    locks = {v["method"]: v for v in ok(me.get("/v1/me/locks"))["locks"]}
    assert locks["qr"]["locked"] is True

    refused(me.post("/v1/me/locks/face"), 404, "method_unknown")
    for bad in ({"minutes": 0}, {"minutes": 1441}, {"minutes": "5"}, {"hours": 1}):
        refused(me.delete("/v1/me/locks/qr", bad), 422, "invalid_request")


def test_consent_request_approved_listed_as_receipt_and_revoked(
    world: World, bank: InstitutionView
) -> None:
    me = Wallet(world, "adult")
    request_id = open_consent(world, me.person_id, bank, ["name", "document_number"])
    [listed] = ok(me.get("/v1/me/requests"))["requests"]
    assert listed["id"] == request_id
    assert listed["kind"] == "consent"
    assert listed["claims"] == ["document_number", "name"]
    refused(me.post(f"/v1/me/requests/{request_id}/approve", {"days": 400}), 422, "invalid_request")
    approved_ = ok(me.post(f"/v1/me/requests/{request_id}/approve", {"days": 30}))
    assert approved_["state"] == "approved"
    refused(me.post(f"/v1/me/requests/{request_id}/approve"), 409, "request_not_pending")
    assert ok(me.get("/v1/me/requests"))["requests"] == []

    [consent] = ok(me.get("/v1/me/consents"))["consents"]
    receipt = consent["receipt"]
    assert consent["state"] == "live"
    assert receipt["version"] == "KI-CR-v1.1.0"
    assert receipt["piiPrincipalId"] == me.issued["network_id"]
    assert receipt["collectionMethod"].startswith("In the netid wallet")
    assert receipt["piiControllers"][0]["piiController"] == bank.name
    assert receipt["services"][0]["purposes"][0]["piiCategory"] == ["document_number", "name"]
    assert receipt["sensitive"] is True
    with world.container.transaction(write=False) as session:
        granted = world.container.consents(session).granted_claims(
            me.person_id, bank.id, "account_opening"
        )
    assert granted == {"name", "document_number"}

    revoked = ok(me.delete(f"/v1/me/consents/{consent['id']}"))
    assert revoked["state"] == "revoked"
    with world.container.transaction(write=False) as session:
        assert not world.container.consents(session).granted_claims(
            me.person_id, bank.id, "account_opening"
        )
    refused(me.delete(f"/v1/me/consents/{'0' * 32}"), 404, "consent_not_found")
    refused(me.delete("/v1/me/consents/not-an-id"), 404, "consent_not_found")

    denied_id = open_consent(world, me.person_id, bank, ["name"])
    assert ok(me.post(f"/v1/me/requests/{denied_id}/deny"))["state"] == "denied"
    refused(me.post(f"/v1/me/requests/{'0' * 32}/deny"), 404, "request_not_found")


def test_another_persons_ids_are_not_found(world: World, bank: InstitutionView) -> None:
    me, other = Wallet(world, "adult"), Wallet(world, "stranger")
    theirs = open_consent(world, other.person_id, bank, ["name"])
    granted = ok(other.post(f"/v1/me/requests/{theirs}/approve"))["consent_id"]
    asked = open_consent(world, other.person_id, bank, ["document_number"])
    # Their request and their consent, by id, from my session: as if they did not exist.
    refused(me.post(f"/v1/me/requests/{asked}/approve"), 404, "request_not_found")
    refused(me.post(f"/v1/me/requests/{asked}/deny"), 404, "request_not_found")
    refused(me.delete(f"/v1/me/consents/{granted}"), 404, "consent_not_found")
    assert ok(me.get("/v1/me/requests"))["requests"] == []
    assert ok(me.get("/v1/me/consents"))["consents"] == []
    with world.container.transaction() as session:
        world.container.audit(session).cut_checkpoint()
    mine = ok(me.get("/v1/me/history?limit=500"))["entries"]
    assert theirs not in str(mine) and asked not in str(mine) and granted not in str(mine)
    # Theirs are untouched: the request still waits, the consent still holds.
    [waiting] = ok(other.get("/v1/me/requests"))["requests"]
    assert waiting["id"] == asked
    [consent] = ok(other.get("/v1/me/consents"))["consents"]
    assert (consent["id"], consent["state"]) == (granted, "live")


def test_history_with_inclusion_proofs_against_the_signed_checkpoint(world: World) -> None:
    me = Wallet(world, "adult")
    ok(me.post("/v1/me/locks/qr"))
    with world.container.transaction() as session:
        cut = world.container.audit(session).cut_checkpoint()
    assert cut is not None
    found = ok(me.get("/v1/me/history?limit=50"))
    actions = [e["entry"]["action"] for e in found["entries"]]
    assert "citizen.lock" in actions
    assert any(a.startswith("enrolment.") for a in actions)  # the enrolment's own entries
    note = found["checkpoint"]["note"]
    with world.container.transaction(write=False) as session:
        audit = world.container.audit(session)
        checkpoint = audit.open_checkpoint(note)  # signed by the log's keys
        hasher = tree_hasher(audit.status().hash_alg)
    for entry in found["entries"]:
        proof = entry["inclusion_proof"]
        assert verify_inclusion(
            hasher,
            entry["index"],
            checkpoint.size,
            base64.b64decode(entry["leaf_hash"]),
            [base64.b64decode(h) for h in proof["hashes"]],
            checkpoint.root,
        )
    # The self-query is recorded: the next one shows it first.
    again = ok(me.get("/v1/me/history"))
    assert again["entries"][0]["entry"]["action"] == "citizen.history"
    refused(me.get("/v1/me/history?limit=0"), 422, "invalid_request")


def test_guardian_approves_one_use_by_the_child(world: World, bank: InstitutionView) -> None:
    mother = Wallet(world, "mother")
    child = Wallet(world, "child", token=mother.token)  # under 14: the guardian enrols
    with world.container.transaction() as session:
        request_id = world.container.citizens(session).open_guardian_use_request(
            ward_person_id=child.person_id,
            institution_id=bank.id,
            institution_code=bank.code or "",
            purpose="account_opening",
            verification_id="b" * 32,
        )
    assert ok(child.get("/v1/me/requests"))["requests"] == []
    [listed] = ok(mother.get("/v1/me/requests"))["requests"]
    assert (listed["id"], listed["kind"], listed["about"]) == (request_id, "guardian_use", "ward")
    refused(child.post(f"/v1/me/requests/{request_id}/approve"), 404, "request_not_found")
    assert ok(mother.post(f"/v1/me/requests/{request_id}/approve"))["state"] == "approved"

    def take() -> bool:
        with world.container.transaction() as session:
            return world.container.citizens(session).take_guardian_use_approval(
                child.person_id, bank.id, "account_opening"
            )

    assert take()
    assert not take()


def test_guardian_approves_a_teen_enrolment_from_the_request_list(world: World) -> None:
    mother = Wallet(world, "mother")
    device = Device(world.clock)
    enrolment_id = world.until_ready("teen", device)
    waiting = world.complete(enrolment_id, device)
    assert waiting.status_code == 202, waiting.text
    [listed] = ok(mother.get("/v1/me/requests"))["requests"]
    assert listed["kind"] == "guardian_enrolment"
    assert listed["about"] == "ward"
    assert enrolment_id not in str(listed)  # the ward's secret never reaches the guardian
    stranger = Wallet(world, "stranger")
    assert ok(stranger.get("/v1/me/requests"))["requests"] == []
    refused(stranger.post(f"/v1/me/requests/{listed['id']}/approve"), 404, "request_not_found")
    assert ok(mother.post(f"/v1/me/requests/{listed['id']}/approve"))["state"] == "approved"
    done = world.complete(enrolment_id, device)
    assert done.status_code == 201, done.text


def test_deregistration_erases_the_account_and_ends_the_session(
    world: World, bank: InstitutionView
) -> None:
    me = Wallet(world, "adult")
    other = Wallet(world, "stranger")
    request_id = open_consent(world, me.person_id, bank, ["name"])
    ok(me.post(f"/v1/me/requests/{request_id}/approve"))
    pending = open_consent(world, me.person_id, bank, ["document_number"])
    ok(me.post("/v1/me/locks/qr"))
    refused(
        me.post("/v1/me/deregister", {"network_id": other.issued["network_id"]}),
        403,
        "network_id_mismatch",
    )
    refused(me.post("/v1/me/deregister", {"network_id": "nonsense"}), 400, "network_id_invalid")
    refused(me.post("/v1/me/deregister", {}), 422, "invalid_request")

    answer = ok(
        me.post("/v1/me/deregister", {"network_id": me.issued["network_id"].replace("-", "")})
    )
    assert answer["state"] == "deregistered"
    assert answer["network_id"] == me.issued["network_id"]
    # The old session is refused on its next request.
    refused(me.get("/v1/me/locks"), 401, "session_invalid")
    refused(world.sign_in(me.issued["credential_id"], me.device), 401, "account_deregistered")

    c = world.container
    with c.transaction(write=False) as session:
        identity = session.get(em.NetworkIdentity, me.person_id)
        assert identity is not None
        assert identity.status == "deregistered"
        assert identity.account_key_wrapped is None  # crypto-shredded wallet-side entries
        assert identity.phone_sealed is None
        assert session.get(em.CollectedFace, me.person_id) is None
        credentials = session.scalars(
            select(em.Credential).where(em.Credential.person_id == me.person_id)
        ).all()
        assert credentials
        assert all(cr.status == "revoked" and cr.pin_hash is None for cr in credentials)
        assert c.consents(session).of_person(me.person_id) == []  # deleted, not only revoked
        assert c.enrolment(session).account_key(me.person_id) is None
        assert (
            session.scalars(
                select(CitizenRequest).where(CitizenRequest.person_id == me.person_id)
            ).all()
            == []
        )
        assert session.get(MethodLock, (me.person_id, "qr")) is None
        assert pending
        # The other person's account is untouched.
        assert c.enrolment(session).account_key(other.person_id) is not None
    assert world.credential_status(me.issued["credential"]) == status_lists.INVALID
    with c.transaction() as session:
        c.audit(session).cut_checkpoint()
    with c.transaction(write=False) as session:
        assert c.audit(session).verify().findings == []
