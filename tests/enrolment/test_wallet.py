"""Wallet sessions: device proof + PIN (+ face, + login code), lockout, QR refs, refresh."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import pytest

from netid.config import Settings
from netid.credentials import sdjwt
from netid.credentials.errors import QrForged
from netid.credentials.presentation import keys_from_jwks
from netid.enrolment.errors import SessionInvalid
from tests.conftest import Backend
from tests.enrolment.support import ACTOR, PIN, Device, World, live_photo, make_world, other_face
from tests.enrolment.test_refusals import refused

pytestmark = pytest.mark.db


@pytest.fixture
def world(settings: Settings, db: Backend) -> World:
    return make_world(settings, db)


@pytest.fixture
def enrolled(world: World) -> tuple[Device, dict[str, Any]]:
    device = Device(world.clock)
    return device, world.enrol("adult", device)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_sign_in_and_me(world: World, enrolled: tuple[Device, dict[str, Any]]) -> None:
    device, issued = enrolled
    answer = world.sign_in(issued["credential_id"], device)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["assurance"] == "L1"
    expires = dt.datetime.fromisoformat(body["expires_at"])
    assert expires - world.clock.now() == dt.timedelta(minutes=15)
    me = world.http.get("/v1/wallet/me", headers=bearer(body["token"]))
    assert me.status_code == 200
    assert me.json()["network_id"] == issued["network_id"]
    assert me.json()["age_band"] == "adult" and me.json()["status"] == "active"
    # 15 minutes later the session is over.
    world.clock.advance(dt.timedelta(minutes=15))
    later = world.http.get("/v1/wallet/me", headers=bearer(body["token"]))
    refused(later, 401, "session_invalid")


def test_session_token_checks(world: World, enrolled: tuple[Device, dict[str, Any]]) -> None:
    device, issued = enrolled
    token = world.session(issued["credential_id"], device)
    for headers in ({}, bearer(token[:-2] + "AA"), bearer("nat1.x.y.z"), {"Authorization": token}):
        refused(world.http.get("/v1/wallet/me", headers=headers), 401, "session_invalid")


def test_pin_lockout_grows(world: World, enrolled: tuple[Device, dict[str, Any]]) -> None:
    device, issued = enrolled
    cid = issued["credential_id"]
    for left in (4, 3, 2, 1):
        error = refused(world.sign_in(cid, device, pin="wrong-pin"), 401, "pin_invalid")
        assert error["details"]["tries_left"] == left
    locked = refused(world.sign_in(cid, device, pin="wrong-pin"), 429, "pin_locked")
    reset_at = dt.datetime.fromisoformat(locked["details"]["reset_at"])
    assert reset_at - world.clock.now() == dt.timedelta(minutes=15)
    refused(world.sign_in(cid, device), 429, "pin_locked")  # the right PIN too
    world.clock.advance(dt.timedelta(minutes=15))
    for _ in range(4):
        refused(world.sign_in(cid, device, pin="wrong-pin"), 401, "pin_invalid")
    locked = refused(world.sign_in(cid, device, pin="wrong-pin"), 429, "pin_locked")
    reset_at = dt.datetime.fromisoformat(locked["details"]["reset_at"])
    assert reset_at - world.clock.now() == dt.timedelta(minutes=30)  # growing
    world.clock.advance(dt.timedelta(minutes=30))
    assert world.sign_in(cid, device).status_code == 200
    # A success resets the count.
    error = refused(world.sign_in(cid, device, pin="wrong-pin"), 401, "pin_invalid")
    assert error["details"]["tries_left"] == 4


def test_sign_in_needs_a_fresh_unused_proof(
    world: World, enrolled: tuple[Device, dict[str, Any]]
) -> None:
    device, issued = enrolled
    proof = device.proof(f"{world.base}/v1/wallet")
    body = {"credential_id": issued["credential_id"], "pin": PIN, "proof": proof}
    assert world.http.post("/v1/wallet/sessions", json=body).status_code == 200
    refused(world.http.post("/v1/wallet/sessions", json=body), 401, "proof_invalid")  # replay
    for bad in (
        device.proof(f"{world.base}/v1/enrolments"),
        device.proof(f"{world.base}/v1/wallet", iat=device.now() + 61),
        Device(world.clock).proof(f"{world.base}/v1/wallet"),
    ):
        body["proof"] = bad
        refused(world.http.post("/v1/wallet/sessions", json=body), 401, "proof_invalid")
    body["credential_id"] = "0" * 32
    body["proof"] = device.proof(f"{world.base}/v1/wallet")
    refused(world.http.post("/v1/wallet/sessions", json=body), 401, "proof_invalid")


def test_l2_and_l3(world: World, enrolled: tuple[Device, dict[str, Any]]) -> None:
    device, issued = enrolled
    cid = issued["credential_id"]
    face = base64.b64encode(live_photo()).decode()
    l2 = world.sign_in(cid, device, face_image=face)
    assert l2.status_code == 200 and l2.json()["assurance"] == "L2"
    refused(
        world.sign_in(cid, device, face_image=base64.b64encode(other_face()).decode()),
        403,
        "face_mismatch",
    )
    refused(world.sign_in(cid, device, otp_code="123456"), 400, "invalid_factors")
    sent = world.http.post(
        "/v1/wallet/otp",
        json={"credential_id": cid, "proof": device.proof(f"{world.base}/v1/wallet")},
    )
    assert sent.status_code == 200 and "****" in sent.json()["phone_hint"]
    code = world.last_code()
    l3 = world.sign_in(cid, device, face_image=face, otp_code=code)
    assert l3.status_code == 200, l3.text
    assert l3.json()["assurance"] == "L3"
    refused(world.sign_in(cid, device, face_image=face, otp_code=code), 401, "otp_expired")


def test_qr_refs_open_and_look_unrelated(
    world: World, enrolled: tuple[Device, dict[str, Any]]
) -> None:
    device, issued = enrolled
    token = world.session(issued["credential_id"], device)
    answer = world.http.post("/v1/wallet/qr-refs", json={"count": 40}, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    refs = answer.json()["refs"]
    assert len(refs) == 40 and len(set(refs)) == 40
    assert all(len(r) <= 120 for r in refs)
    refused(
        world.http.post("/v1/wallet/qr-refs", json={"count": 41}, headers=bearer(token)),
        422,
        "invalid_request",
    )
    with world.container.transaction(write=False) as session:
        service = world.container.enrolment(session)
        opened = service.open_credential_ref(refs[0])
        assert opened.cid == issued["credential_id"] and opened.lvl == "L1"
        assert opened.exp == int(world.clock.now().timestamp()) + 900
        found = service.credential_for_qr(opened.cid)
        assert found is not None and found.status == "active" and found.device_key is not None
        assert found.account_status == "active" and found.subject_id
        tampered = refs[0][:-3] + ("A" if refs[0][-3] != "A" else "B") + refs[0][-2:]
        for bad in (tampered, "", "!!", refs[0][:20]):
            with pytest.raises(QrForged):
                service.open_credential_ref(bad)


def test_credential_expired_and_refresh(world: World) -> None:
    device = Device(world.clock)
    issued = world.enrol("adult", device)
    token = world.session(issued["credential_id"], device)
    world.clock.advance(dt.timedelta(days=366))
    token = world.session(issued["credential_id"], device)  # sign-in still works: refresh
    me = world.http.get("/v1/wallet/me", headers=bearer(token)).json()
    assert me["status"] == "expired"
    refused(
        world.http.post("/v1/wallet/qr-refs", json={"count": 1}, headers=bearer(token)),
        401,
        "credential_expired",
    )
    refreshed = world.http.post("/v1/wallet/credential/refresh", headers=bearer(token))
    assert refreshed.status_code == 200, refreshed.text
    body = refreshed.json()
    assert body["credential_id"] == issued["credential_id"]
    jwks = world.http.get("/v1/credentials/jwks").json()
    verified = sdjwt.verify(
        body["credential"],
        issuer_keys=keys_from_jwks(jwks),
        now=int(world.clock.now().timestamp()),
        audience=None,
        nonce=None,
        require_key_binding=False,
    )
    assert verified.jti == issued["credential_id"]
    assert (
        world.http.post("/v1/wallet/qr-refs", json={"count": 1}, headers=bearer(token)).status_code
        == 200
    )


def test_revocation_and_deregistration_end_sessions(
    world: World, enrolled: tuple[Device, dict[str, Any]]
) -> None:
    device, issued = enrolled
    token = world.session(issued["credential_id"], device)
    person_id = world.person_id("adult")
    with world.container.transaction() as session:
        assert (
            world.container.enrolment(session).revoke_credentials(
                person_id, reason="lost", actor=ACTOR
            )
            == 1
        )
    refused(world.http.get("/v1/wallet/me", headers=bearer(token)), 401, "session_invalid")
    refused(world.sign_in(issued["credential_id"], device), 401, "credential_revoked")
    # Deregistration: the account refuses sign-in; the network ID stays for a re-enrolment.
    with world.container.transaction() as session:
        service = world.container.enrolment(session)
        service.unsafe_erase_account(person_id, actor=ACTOR)
        assert service.account_key(person_id) is None
        assert service.network_id_of(person_id) == issued["network_id"]
        with pytest.raises(SessionInvalid):
            service.authenticate(token, wallet_keys=world.container.token_mac_keys())
    refused(world.sign_in(issued["credential_id"], device), 401, "account_deregistered")
    again = world.enrol("adult", Device(world.clock))
    assert again["network_id"] == issued["network_id"]


def test_suspension_shows_in_the_status_list(
    world: World, enrolled: tuple[Device, dict[str, Any]]
) -> None:
    from netid.credentials import status_list as status_lists

    _, issued = enrolled
    person_id = world.person_id("adult")
    with world.container.transaction() as session:
        assert world.container.enrolment(session).set_credential_suspended(person_id, True) == 1
    assert world.credential_status(issued["credential"]) == status_lists.SUSPENDED
    with world.container.transaction() as session:
        world.container.enrolment(session).set_credential_suspended(person_id, False)
    assert world.credential_status(issued["credential"]) == status_lists.VALID
