"""The enrolment flow over HTTP (the real app, real crypto, the real dlib matcher)."""

from __future__ import annotations

from pathlib import Path

import pytest

from netid.config import Settings
from netid.credentials import sdjwt
from netid.credentials import status_list as status_lists
from netid.credentials.network_id import is_valid_network_id
from netid.credentials.presentation import keys_from_jwks
from tests.conftest import Backend
from tests.enrolment.support import Device, World, make_world

pytestmark = pytest.mark.db


@pytest.fixture
def world(settings: Settings, db: Backend) -> World:
    return make_world(settings, db)


def test_happy_path_issues_a_verifiable_credential(world: World, tmp_path: Path) -> None:
    device = Device(world.clock)
    started = world.start("adult", device)
    assert started.status_code == 201, started.text
    body = started.json()
    assert body["supervision"] == "none"
    assert body["steps"] == ["face", "otp", "complete"]
    assert "****" in body["phone_hint"]
    enrolment_id = body["enrolment_id"]
    assert world.face(enrolment_id, device).json() == {"state": "otp_pending"}
    assert world.otp(enrolment_id).json() == {"state": "ready"}
    done = world.complete(enrolment_id, device)
    assert done.status_code == 201, done.text
    issued = done.json()
    assert is_valid_network_id(issued["network_id"].replace("-", ""))
    jwks = world.http.get("/v1/credentials/jwks").json()
    verified = sdjwt.verify(
        issued["credential"],
        issuer_keys=keys_from_jwks(jwks),
        now=int(world.clock.now().timestamp()),
        audience=None,
        nonce=None,
        require_key_binding=False,
        expected_issuer=world.base,
        expected_vct="urn:netid:credential:network-identity:1",
    )
    claims = verified.disclosed
    assert claims["name"] == "欧阳·娜娜"
    assert claims["birth_date"] == "1990-03-07"
    assert claims["age_over_18"] is True and claims["age_over_60"] is False
    assert verified.jti == issued["credential_id"]
    assert verified.status is not None
    # The status list the credential points at says VALID for it.
    path = verified.status.uri.removeprefix(world.base)
    answer = world.http.get(path)
    assert answer.headers["content-type"].startswith("application/statuslist+jwt")
    lst = status_lists.verify_token(
        answer.text,
        keys=keys_from_jwks(jwks),
        uri=verified.status.uri,
        now=int(world.clock.now().timestamp()),
    )
    assert lst.status(verified.status.idx) == status_lists.VALID


def test_re_enrolment_keeps_the_network_id_and_revokes_the_old_credential(world: World) -> None:
    first_device, second_device = Device(world.clock), Device(world.clock)
    first = world.enrol("adult", first_device)
    token = world.session(first["credential_id"], first_device)
    assert (
        world.http.get("/v1/wallet/me", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )
    second = world.enrol("adult", second_device)
    assert second["network_id"] == first["network_id"]
    assert second["credential_id"] != first["credential_id"]
    # The old credential's bit flipped to INVALID; the new one is VALID.
    assert world.credential_status(first["credential"]) == status_lists.INVALID
    assert world.credential_status(second["credential"]) == status_lists.VALID
    # The old session is refused on its very next request; the old credential cannot sign in.
    me = world.http.get("/v1/wallet/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401 and me.json()["error"]["code"] == "session_invalid"
    again = world.sign_in(first["credential_id"], first_device)
    assert again.status_code == 401 and again.json()["error"]["code"] == "credential_revoked"
    assert ("credential.revoke", "ok") in world.actions()


def test_re_enrolment_keeps_the_credential_lock(world: World) -> None:
    """A person who locked the `credential` method (status list SUSPENDED) and enrols a new
    device gets a SUSPENDED credential: a new phone does not shed the lock."""
    first_device = Device(world.clock)
    first = world.enrol("adult", first_device)
    token = world.session(first["credential_id"], first_device)
    locked = world.http.post(
        "/v1/me/locks/credential", headers={"Authorization": f"Bearer {token}"}
    )
    assert locked.status_code == 200 and locked.json()["locked"] is True, locked.text
    assert world.credential_status(first["credential"]) == status_lists.SUSPENDED
    second_device = Device(world.clock)
    second = world.enrol("adult", second_device)
    assert world.credential_status(first["credential"]) == status_lists.INVALID
    assert world.credential_status(second["credential"]) == status_lists.SUSPENDED
    token = world.session(second["credential_id"], second_device)
    me = world.http.get("/v1/wallet/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["status"] == "suspended"
    # Unlocked, the next device's credential is VALID again.
    unlocked = world.http.delete(
        "/v1/me/locks/credential", headers={"Authorization": f"Bearer {token}"}
    )
    assert unlocked.status_code == 200 and unlocked.json()["locked"] is False, unlocked.text
    third = world.enrol("adult", Device(world.clock))
    assert world.credential_status(second["credential"]) == status_lists.INVALID
    assert world.credential_status(third["credential"]) == status_lists.VALID


def test_audit_trail_of_an_enrolment(world: World) -> None:
    world.enrol("adult", Device(world.clock))
    actions = [a for a, _ in world.actions()]
    for action in (
        "enrolment.start",
        "enrolment.face",
        "enrolment.otp",
        "enrolment.complete",
        "credential.issue",
        "registry.face_template.load",
    ):
        assert action in actions, action
