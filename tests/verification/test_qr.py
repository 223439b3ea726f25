"""``netid_qr`` verifications end to end over the real app: a person enrolled through the
enrolment API shows a QR code minted by their device key; an institution posts the scanned
text. Every refusal is a distinct code, recorded, and changes nothing else."""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from netid.audit.models import AccessRecord
from netid.client.rp import ASSERTION_TYPE, client_assertion
from netid.config import Settings
from netid.credentials import qr
from netid.crypto import jose_keys
from netid.verification.models import QrNonce
from netid.verification.schemas import QrVerificationRequest
from tests.conftest import Backend
from tests.enrolment.support import Device, World, make_world
from tests.verification.support import ApprovedInstitution


@pytest.fixture
def world(settings: Settings, db: Backend) -> World:
    return make_world(settings, db)


class Wallet:
    """An enrolled person's device, signed in, minting QR codes like the wallet does."""

    def __init__(self, world: World, who: str, *, token: str | None = None) -> None:
        self.world = world
        self.device = Device(world.clock)
        enrolled = world.enrol(who, self.device, token=token)
        self.credential_id = str(enrolled["credential_id"])
        self.session = world.session(self.credential_id, self.device)

    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.session}"}

    def ref(self) -> str:
        answer = self.world.http.post(
            "/v1/wallet/qr-refs", json={"count": 1}, headers=self.bearer()
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["refs"][0])

    def qr(self, *, lifetime: int = 60, nonce: bytes | None = None, key: Any = None) -> str:
        return qr.mint(
            key or self.device.key,
            ref=self.ref(),
            issued_at=int(self.world.clock.now().timestamp()),
            lifetime=lifetime,
            nonce=nonce,
        )


def bearer(world: World, institution: ApprovedInstitution) -> dict[str, str]:
    """A fresh access token, asserted at the world's (pinned) time."""
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": client_assertion(
            institution.client_file, now=world.clock.now().timestamp()
        ),
    }
    answer = world.http.post("/oauth2/token", data=form)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def scan(world: World, institution: ApprovedInstitution, text: str, **fields: Any) -> Any:
    body = {"type": "netid_qr", "purpose": "account_opening", "qr": text, **fields}
    return world.http.post("/v1/verifications", json=body, headers=bearer(world, institution))


def records(world: World, action: str = "verification.netid_qr") -> list[tuple[str, str]]:
    with world.container.transaction(write=False) as session:
        rows = session.execute(
            select(AccessRecord.outcome, AccessRecord.canonical)
            .where(AccessRecord.action == action)
            .order_by(AccessRecord.log_index)
        ).all()
    return [(outcome, canonical.decode()) for outcome, canonical in rows]


def code(answer: Any) -> str:
    return str(answer.json()["error"]["code"])


def test_a_scanned_qr_code_is_answered_with_the_pseudonym_and_assurance(world: World) -> None:
    wallet = Wallet(world, "adult")
    bank = ApprovedInstitution(world.container)
    text = wallet.qr()
    assert len(text) <= 400  # fits a QR code that scans reliably (docs/decisions/0005)
    answer = scan(world, bank, text, claims=["age_over_18"])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["type"] == "netid_qr" and body["result"] == "match"
    assert body["assurance"] == "L1"
    assert body["claims"] == {"age_over_18": True}
    # The same pseudonym as a verification by document number gives this institution.
    by_number = world.http.post(
        "/v1/verifications",
        json={
            "type": "id2",
            "purpose": "account_opening",
            "subject": {
                "document_number": world.number("adult"),
                "name": world.records["adult"]["name"],
            },
        },
        headers=bearer(world, bank),
    )
    assert by_number.json()["pseudonym"] == body["pseudonym"]
    # Another institution gets another pseudonym.
    other = ApprovedInstitution(world.container)
    assert scan(world, other, wallet.qr()).json()["pseudonym"] != body["pseudonym"]
    outcome, canonical = records(world)[0]
    assert outcome == "match"
    assert (
        world.number("adult") not in canonical and world.records["adult"]["name"] not in canonical
    )


def test_the_qr_text_carries_no_personal_data_and_two_scans_look_unrelated(world: World) -> None:
    wallet = Wallet(world, "adult")
    first, second = qr.read(wallet.qr()), qr.read(wallet.qr())
    assert first.ref != second.ref and first.nonce != second.nonce
    for claims in (first, second):
        assert wallet.credential_id not in claims.ref
        assert world.number("adult") not in claims.ref


def test_each_nonce_is_accepted_exactly_once(world: World) -> None:
    wallet = Wallet(world, "adult")
    bank = ApprovedInstitution(world.container)
    text = wallet.qr()
    assert scan(world, bank, text).status_code == 200
    replay = scan(world, bank, text)
    assert replay.status_code == 409 and code(replay) == "qr_replayed"
    # Also by another institution that saw the screen.
    other = ApprovedInstitution(world.container)
    assert code(scan(world, other, text)) == "qr_replayed"
    assert [o for o, _ in records(world)] == ["match", "refused", "refused"]


def test_a_replay_in_the_last_accepted_second_is_still_refused(world: World) -> None:
    """The expiry check works in whole seconds, so a code is accepted until exp + skew + 1;
    its nonce must not be purged (or expire in Redis) before then (SEC-16)."""
    wallet = Wallet(world, "adult")
    bank = ApprovedInstitution(world.container)
    text = wallet.qr(lifetime=60)
    claims = qr.read(text)
    assert scan(world, bank, text).status_code == 200
    last_second = dt.datetime.fromtimestamp(claims.exp + 30, dt.UTC) + dt.timedelta(
        milliseconds=500
    )
    world.clock.advance(last_second - world.clock.now())
    replay = scan(world, bank, text)
    assert (replay.status_code, code(replay)) == (409, "qr_replayed")
    world.clock.advance(dt.timedelta(seconds=1))
    assert code(scan(world, bank, text)) == "qr_expired"


def test_fifty_concurrent_redemptions_one_success(world: World) -> None:
    wallet = Wallet(world, "adult")
    bank = ApprovedInstitution(world.container)
    headers = bearer(world, bank)
    body = {"type": "netid_qr", "purpose": "payment", "qr": wallet.qr()}
    statuses: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(50)

    def redeem() -> None:
        start.wait()
        status = world.http.post("/v1/verifications", json=body, headers=headers).status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=redeem) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [409] * 49
    outcomes = [o for o, _ in records(world)]
    assert outcomes.count("match") == 1 and outcomes.count("refused") == 49


def test_forged_expired_and_malformed_codes_are_refused_distinctly(world: World) -> None:
    wallet = Wallet(world, "adult")
    bank = ApprovedInstitution(world.container)
    # Signed by another key: forged.
    stolen_ref = wallet.qr(key=jose_keys.generate_private_key("ES256"))
    forged = scan(world, bank, stolen_ref)
    assert forged.status_code == 403 and code(forged) == "qr_forged"
    # A ref the platform never sealed.
    fake = qr.mint(wallet.device.key, ref="A" * 80, issued_at=int(world.clock.now().timestamp()))
    assert code(scan(world, bank, fake)) == "qr_forged"
    # Not a QR token at all.
    malformed = scan(world, bank, "https://example.com/?id=110105199003070011")
    assert malformed.status_code == 400 and code(malformed) == "qr_malformed"
    # Expired: 60 s of life plus 30 s of skew, then one second more.
    text = wallet.qr()
    world.clock.advance(dt.timedelta(seconds=91))
    assert code(scan(world, bank, text)) == "qr_expired"
    # Within the skew it is still good.
    text = wallet.qr()
    world.clock.advance(dt.timedelta(seconds=90))
    assert scan(world, bank, text).status_code == 200
    # Nothing spent for the refused ones but their records.
    with world.container.transaction(write=False) as session:
        assert session.scalar(select(func.count()).select_from(QrNonce)) == 1


def test_a_code_from_the_future_beyond_the_skew_is_refused(world: World) -> None:
    wallet = Wallet(world, "adult")
    bank = ApprovedInstitution(world.container)
    now = int(world.clock.now().timestamp())
    future = qr.mint(wallet.device.key, ref=wallet.ref(), issued_at=now + 31, lifetime=60)
    assert code(scan(world, bank, future)) == "qr_expired"


def test_a_revoked_credential_is_refused(world: World) -> None:
    wallet = Wallet(world, "adult")
    bank = ApprovedInstitution(world.container)
    old_code = wallet.qr()
    Wallet(world, "adult")  # enrols again on a new phone: the old credential is revoked
    answer = scan(world, bank, old_code)
    assert answer.status_code == 403 and code(answer) == "credential_revoked"


def test_the_person_locks_and_temporarily_unlocks_qr_codes(world: World) -> None:
    wallet = Wallet(world, "adult")
    bank = ApprovedInstitution(world.container)
    locked = world.http.post("/v1/me/locks/qr", headers=wallet.bearer())
    assert locked.status_code == 200, locked.text
    answer = scan(world, bank, wallet.qr())
    assert answer.status_code == 403 and code(answer) == "method_locked"
    unlock = world.http.request(
        "DELETE", "/v1/me/locks/qr", json={"minutes": 5}, headers=wallet.bearer()
    )
    assert unlock.status_code == 200, unlock.text
    assert scan(world, bank, wallet.qr()).status_code == 200
    world.clock.advance(dt.timedelta(minutes=5))
    wallet.session = world.session(wallet.credential_id, wallet.device)
    assert code(scan(world, bank, wallet.qr())) == "method_locked"


def test_an_institution_may_require_an_assurance_level(world: World) -> None:
    wallet = Wallet(world, "adult")
    bank = ApprovedInstitution(world.container)
    answer = scan(world, bank, wallet.qr(), min_assurance="L2")
    assert answer.status_code == 403 and code(answer) == "assurance_insufficient"
    details = answer.json()["error"]["details"]
    assert (details["required"], details["reached"]) == ("L2", "L1")
    assert scan(world, bank, wallet.qr(), min_assurance="L1").status_code == 200


def test_plaintext_claims_need_the_persons_approval_in_the_wallet(world: World) -> None:
    wallet = Wallet(world, "adult")
    bank = ApprovedInstitution(world.container)
    asked = ["name", "document_number"]
    refused = scan(world, bank, wallet.qr(), claims=asked)
    assert refused.status_code == 403 and code(refused) == "consent_required"
    request_id = refused.json()["error"]["details"]["request_id"]
    pending = world.http.get("/v1/me/requests", headers=wallet.bearer()).json()
    assert request_id in str(pending)
    (shown,) = [r for r in pending["requests"] if r["id"] == request_id]
    # The person sees who asks, for what, and each claim (issue 5 §8).
    assert shown["institution_name"] == bank.view.name
    assert (shown["purpose"], sorted(shown["claims"])) == ("account_opening", sorted(asked))
    approved = world.http.post(f"/v1/me/requests/{request_id}/approve", headers=wallet.bearer())
    assert approved.status_code == 200, approved.text
    answer = scan(world, bank, wallet.qr(), claims=asked)
    assert answer.status_code == 200, answer.text
    assert answer.json()["claims"] == {
        "name": world.records["adult"]["name"],
        "document_number": world.number("adult"),
    }
    # Revoking the consent acts on the next request.
    consents = world.http.get("/v1/me/consents", headers=wallet.bearer()).json()
    consent_id = consents["consents"][0]["id"]
    assert consents["consents"][0]["receipt"]["consentReceiptID"] == consent_id
    revoked = world.http.delete(f"/v1/me/consents/{consent_id}", headers=wallet.bearer())
    assert revoked.status_code == 200, revoked.text
    assert code(scan(world, bank, wallet.qr(), claims=asked)) == "consent_required"


def test_a_child_under_14_needs_the_guardians_approval_for_each_use(world: World) -> None:
    mother = Wallet(world, "mother")
    child = Wallet(world, "child", token=mother.session)
    bank = ApprovedInstitution(world.container)
    refused = scan(world, bank, child.qr(), purpose="payment")
    assert refused.status_code == 403 and code(refused) == "guardian_approval_required"
    request_id = refused.json()["error"]["details"]["request_id"]
    approve = world.http.post(f"/v1/me/requests/{request_id}/approve", headers=mother.bearer())
    assert approve.status_code == 200, approve.text
    assert scan(world, bank, child.qr(), purpose="payment").status_code == 200
    # The approval was for one use.
    assert code(scan(world, bank, child.qr(), purpose="payment")) == "guardian_approval_required"


def test_a_deregistered_account_is_refused(world: World) -> None:
    wallet = Wallet(world, "adult")
    bank = ApprovedInstitution(world.container)
    text = wallet.qr()
    with world.container.transaction(write=False) as session:
        network_id = world.container.enrolment(session).network_id_of(world.person_id("adult"))
    gone = world.http.post(
        "/v1/me/deregister", json={"network_id": network_id}, headers=wallet.bearer()
    )
    assert gone.status_code == 200, gone.text
    answer = scan(world, bank, text)
    assert answer.status_code == 403 and code(answer) == "account_deregistered"


def test_verification_by_number_honours_the_document_lock_only_on_a_match(world: World) -> None:
    wallet = Wallet(world, "adult")
    bank = ApprovedInstitution(world.container)
    assert world.http.post("/v1/me/locks/document", headers=wallet.bearer()).status_code == 200

    def by_number(name: str) -> Any:
        return world.http.post(
            "/v1/verifications",
            json={
                "type": "id2",
                "purpose": "account_opening",
                "subject": {"document_number": world.number("adult"), "name": name},
            },
            headers=bearer(world, bank),
        )

    assert code(by_number(world.records["adult"]["name"])) == "method_locked"
    # A wrong name stays a plain mismatch: the lock must not confirm the number exists.
    mismatch = by_number("张三丰")
    assert mismatch.status_code == 200 and mismatch.json()["result"] == "mismatch"
    # QR codes are another method: still answered.
    assert scan(world, bank, wallet.qr()).status_code == 200


def test_random_garbage_never_500s(world: World) -> None:
    bank = ApprovedInstitution(world.container)
    for text in ("a.b.c", "..", "x" * 1000, "eyJ9.eyJ9.AA", secrets.token_urlsafe(300)):
        answer = scan(world, bank, text)
        assert answer.status_code in (400, 403), (text, answer.text)
        assert "WWW-Authenticate" not in answer.headers
    too_long = scan(world, bank, "x" * 1025)
    assert too_long.status_code == 422


def test_a_credential_whose_document_left_the_registry_is_stale(world: World) -> None:
    wallet = Wallet(world, "adult")
    bank = ApprovedInstitution(world.container)
    text = wallet.qr()
    with world.container.transaction() as session:
        world.container.registry(session).unsafe_crypto_shred(
            world.person_id("adult"), actor="operator:test"
        )
    answer = scan(world, bank, text)
    assert answer.status_code == 403 and code(answer) == "credential_stale"


def test_a_consent_refusal_does_not_use_up_the_guardians_approval(world: World) -> None:
    mother = Wallet(world, "mother")
    child = Wallet(world, "child", token=mother.session)
    bank = ApprovedInstitution(world.container)
    first = scan(world, bank, child.qr(), purpose="payment")
    request_id = first.json()["error"]["details"]["request_id"]
    assert (
        world.http.post(
            f"/v1/me/requests/{request_id}/approve", headers=mother.bearer()
        ).status_code
        == 200
    )
    # Asking for a claim without consent is refused before the approval is taken …
    asked = scan(world, bank, child.qr(), claims=["name"])
    assert code(asked) == "consent_required"
    # … so the approved use is still there for the next scan.
    assert scan(world, bank, child.qr(), purpose="payment").status_code == 200


def test_a_child_whose_guardian_deregistered_is_refused_clearly(world: World) -> None:
    mother = Wallet(world, "mother")
    child = Wallet(world, "child", token=mother.session)
    bank = ApprovedInstitution(world.container)
    with world.container.transaction(write=False) as session:
        network_id = world.container.enrolment(session).network_id_of(world.person_id("mother"))
    gone = world.http.post(
        "/v1/me/deregister", json={"network_id": network_id}, headers=mother.bearer()
    )
    assert gone.status_code == 200, gone.text
    # No guardian is left to approve: not a request nobody could ever see.
    answer = scan(world, bank, child.qr(), purpose="payment")
    assert answer.status_code == 403 and code(answer) == "guardian_not_enrolled"
    assert "request_id" not in answer.json()["error"].get("details", {})


def test_staged_the_nonce_is_spent_by_the_write_stage_once(world: World) -> None:
    """Two scans of one code can both pass the read stage (signature, credential); the
    nonce is spent in the write stage, so only the first is answered and the second is
    refused and recorded (docs/decisions/0007 "Staged units")."""
    wallet = Wallet(world, "adult")
    bank = ApprovedInstitution(world.container)
    request = QrVerificationRequest.model_validate(
        {"type": "netid_qr", "purpose": "payment", "qr": wallet.qr()}
    )
    container = world.container
    with container.transaction(write=False) as session:
        first = container.verification(session).prepare(bank.id, request)
        second = container.verification(session).prepare(bank.id, request)
    assert records(world) == []  # the read stage wrote nothing
    with container.transaction() as session:
        answered = container.verification(session).complete(first)
        refused = container.verification(session).complete(second)
    assert answered.answer is not None
    assert answered.answer.result == "match"
    assert refused.refusal is not None
    assert refused.refusal.code == "qr_replayed"
    assert [o for o, _ in records(world)] == ["match", "refused"]
