"""Key rotation covers what enrolment seals: account keys (data key), pending enrolments'
phone and document (data key) and face (face key), collected face templates (face key); the
old keys retire only once nothing depends on them, and everything keeps working after."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from netid.cli import main
from netid.config import Settings
from netid.credentials.errors import QrForged
from netid.crypto.jose_keys import b64url_decode
from netid.crypto.sealing import sealed_key_id
from netid.enrolment import models as m
from netid.keys.errors import KeyStillInUse
from netid.keys.schemas import KeyPurpose
from tests.conftest import Backend
from tests.enrolment.support import ACTOR, Device, World, live_photo, make_world

pytestmark = pytest.mark.db


@pytest.fixture
def world(settings: Settings, db: Backend, monkeypatch: pytest.MonkeyPatch) -> World:
    made = make_world(settings, db)
    monkeypatch.setattr(main, "_container", made.container)  # the CLI works on this world
    return made


def cli(*args: str) -> Any:
    result = CliRunner().invoke(main.app, list(args))
    assert result.exit_code == 0, (result.exit_code, result.output, result.exception)
    return json.loads(result.stdout.splitlines()[-1])


def cli_error(*args: str) -> BaseException:
    result = CliRunner().invoke(main.app, list(args))
    assert result.exception is not None and not isinstance(result.exception, SystemExit)
    return result.exception


def active_key(world: World, purpose: KeyPurpose) -> str:
    return world.container.keyring(reload=True).active(purpose).key_id


def qr_refs(world: World, token: str, count: int = 2) -> list[str]:
    answer = world.http.post(
        "/v1/wallet/qr-refs", json={"count": count}, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200, answer.text
    refs: list[str] = answer.json()["refs"]
    return refs


def open_ref(world: World, ref: str) -> str:
    with world.container.transaction(write=False) as session:
        return world.container.enrolment(session).open_credential_ref(ref).cid


def enrolment_references(world: World, key_id: str) -> int:
    with world.container.transaction(write=False) as session:
        return world.container.enrolment(session).references_to_key(key_id)


def test_rotating_data_and_face_keys_covers_enrolment_then_the_old_keys_retire(
    world: World,
) -> None:
    c = world.container
    device = Device(world.clock)
    issued = world.enrol("adult", device)
    cid = issued["credential_id"]
    old_ref = qr_refs(world, world.session(cid, device), 1)[0]
    # An enrolment in progress, past its face step: phone and document under the data key, the
    # live face template under the face key (its code is still to be entered).
    just_started = world.start("mother", Device(world.clock))  # phone and document only
    assert just_started.status_code == 201, just_started.text
    pending_device = Device(world.clock)
    started = world.start("stranger", pending_device)  # its code is the newest SMS
    assert started.status_code == 201, started.text
    pending_id = started.json()["enrolment_id"]
    assert world.face(pending_id, pending_device).status_code == 200
    old_data, old_face = active_key(world, KeyPurpose.DATA), active_key(world, KeyPurpose.FACE)
    # data: adult's account key + the two pending enrolments (a completed enrolment keeps no
    # sealed values: the account holds its own); face: adult's collected template + the
    # pending enrolment's live template.
    with c.transaction(write=False) as session:
        done = session.scalars(select(m.Enrolment).where(m.Enrolment.state == "completed")).one()
        assert (done.phone_sealed, done.document_sealed, done.face_sealed) == (b"", b"", None)
    assert enrolment_references(world, old_data) == 3
    assert enrolment_references(world, old_face) == 2

    # What a kill right after `keys rotate` committed leaves: new active keys, nothing re-sealed.
    # The registry's and the SMS outbox's parts are done; enrolment's rows alone hold the keys.
    with c.transaction() as session:
        c.keyring_service(session).rotate(KeyPurpose.DATA)
        c.keyring_service(session).rotate(KeyPurpose.FACE)
    c.keyring(reload=True)
    with c.registry_unit() as registry:
        while registry.rewrap_person_keys(batch_size=100, actor=ACTOR):
            pass
        while registry.reseal_face_templates(batch_size=100, actor=ACTOR):
            pass
    with c.transaction() as session:
        while c.outbox(session).reseal(batch_size=100, actor=ACTOR):
            pass
    for old, count in ((old_data, 3), (old_face, 2)):
        refused = cli_error("keys", "retire", old)
        assert isinstance(refused, KeyStillInUse)
        assert refused.details == {"references": count}

    # Before re-sealing and before retirement, the old keys still open everything.
    assert open_ref(world, old_ref) == cid
    resumed = cli("keys", "resume", "--batch-size", "1")  # one row a batch: resumable
    assert resumed["account_keys_rewrapped"] == 1
    assert resumed["enrolments_resealed"] == 2  # the pending ones; the completed one holds none
    assert resumed["collected_faces_resealed"] == 1
    assert cli("keys", "resume")["enrolments_resealed"] == 0  # done: nothing left
    actions = [a for a, _ in world.actions()]
    assert actions.count("keys.reseal_enrolments") == 2  # each batch recorded
    assert actions.count("keys.rewrap_account_keys") == 1
    new_data, new_face = active_key(world, KeyPurpose.DATA), active_key(world, KeyPurpose.FACE)
    with c.transaction(write=False) as session:
        identity = session.scalars(select(m.NetworkIdentity)).one()
        assert identity.data_key_id == new_data
        assert identity.account_key_wrapped is not None
        assert sealed_key_id(identity.account_key_wrapped) == new_data
        for row in session.scalars(select(m.Enrolment).where(m.Enrolment.phone_sealed != b"")):
            assert sealed_key_id(row.phone_sealed) == new_data
            assert sealed_key_id(row.document_sealed) == new_data
            assert row.face_sealed is None or sealed_key_id(row.face_sealed) == new_face
        face = session.scalars(select(m.CollectedFace)).one()
        assert face.face_key_id == new_face == sealed_key_id(face.template_sealed)
    assert enrolment_references(world, old_data) == enrolment_references(world, old_face) == 0
    # A reference sealed under the old data key opens until that key is retired …
    assert open_ref(world, old_ref) == cid
    assert cli("keys", "retire", old_data)["retired"] == old_data
    assert cli("keys", "retire", old_face)["retired"] == old_face
    c.keyring(reload=True)  # (another process sees the retirement at its next refresh)
    # … and then it is qr_forged (accepted: references live at most 15 minutes).
    with pytest.raises(QrForged):
        open_ref(world, old_ref)

    # The enrolled person still signs in at L1 and L2, sees their account, gets QR refs.
    token = world.session(cid, device)
    face_image = base64.b64encode(live_photo()).decode()
    l2 = world.sign_in(cid, device, face_image=face_image)
    assert l2.status_code == 200 and l2.json()["assurance"] == "L2", l2.text
    me = world.http.get("/v1/wallet/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["age_band"] == "adult"  # the document opens
    refs = qr_refs(world, l2.json()["token"])
    assert [open_ref(world, r) for r in refs] == [cid, cid]
    assert {sealed_key_id(b64url_decode(r)) for r in refs} == {new_data}
    # The enrolment that was in progress finishes (phone, document and face re-sealed) …
    assert world.otp(pending_id).status_code == 200
    done = world.complete(pending_id, pending_device)
    assert done.status_code == 201, done.text
    # … and a new enrolment works from the start.
    assert world.enrol("mother", Device(world.clock))["network_id"]


def test_a_live_one_time_code_holds_its_mac_key_until_used(world: World) -> None:
    """A code cannot be re-MACed (only its MAC is stored): the rotated-out token_mac key is
    referenced while a code under it could still be entered."""
    c = world.container
    device = Device(world.clock)
    enrolment_id = world.start("adult", device).json()["enrolment_id"]
    old_mac = active_key(world, KeyPurpose.TOKEN_MAC)
    with c.transaction() as session:
        c.keyring_service(session).rotate(KeyPurpose.TOKEN_MAC)
    assert enrolment_references(world, old_mac) == 1
    assert isinstance(cli_error("keys", "retire", old_mac), KeyStillInUse)
    assert world.face(enrolment_id, device).status_code == 200
    assert world.otp(enrolment_id).status_code == 200  # used: no longer a reference
    assert enrolment_references(world, old_mac) == 0
    assert cli("keys", "retire", old_mac)["retired"] == old_mac


def test_erased_accounts_give_rotation_nothing_to_do(world: World) -> None:
    """Deregistration erases the sealed values (empty cells, no account key): rotation skips
    them (it would otherwise pick them up forever) and they hold no key."""
    c = world.container
    world.enrol("adult", Device(world.clock))
    with c.transaction() as session:
        c.enrolment(session).unsafe_erase_account(world.person_id("adult"), actor=ACTOR)
    old_data, old_face = active_key(world, KeyPurpose.DATA), active_key(world, KeyPurpose.FACE)
    assert enrolment_references(world, old_data) == enrolment_references(world, old_face) == 0
    with c.transaction() as session:
        c.keyring_service(session).rotate(KeyPurpose.DATA)
        c.keyring_service(session).rotate(KeyPurpose.FACE)
    resumed = cli("keys", "resume")
    assert resumed["account_keys_rewrapped"] == 0
    assert resumed["enrolments_resealed"] == resumed["collected_faces_resealed"] == 0
    assert cli("keys", "retire", old_data)["retired"] == old_data
    assert cli("keys", "retire", old_face)["retired"] == old_face


def test_a_live_credential_holds_its_signing_key_until_refreshed(world: World) -> None:
    """Retiring the ed25519 key that signed a live credential would drop it from the JWKS and
    leave the wallet with a credential nobody can verify offline: refused until the wallet
    refreshes (re-signed under the new key)."""
    c = world.container
    device = Device(world.clock)
    enrolled = world.enrol("adult", device)
    old_signing = active_key(world, KeyPurpose.ED25519_SIGNING)
    with c.transaction() as session:
        c.keyring_service(session).rotate(KeyPurpose.ED25519_SIGNING)
    c.keyring(reload=True)  # as the server sees it within KEYRING_REFRESH_SECONDS
    assert enrolment_references(world, old_signing) == 1
    assert isinstance(cli_error("keys", "retire", old_signing), KeyStillInUse)
    token = world.session(enrolled["credential_id"], device)
    refreshed = world.http.post(
        "/v1/wallet/credential/refresh", headers={"Authorization": f"Bearer {token}"}
    )
    assert refreshed.status_code in (200, 201), refreshed.text
    credential = refreshed.json()["credential"]
    header = json.loads(b64url_decode(credential.split(".")[0]))
    assert header["kid"] == active_key(world, KeyPurpose.ED25519_SIGNING) != old_signing
    assert enrolment_references(world, old_signing) == 0
    assert cli("keys", "retire", old_signing)["retired"] == old_signing
    c.keyring(reload=True)
    jwks = world.http.get("/v1/credentials/jwks").json()
    assert old_signing not in {k["kid"] for k in jwks["keys"]}
    assert header["kid"] in {k["kid"] for k in jwks["keys"]}
