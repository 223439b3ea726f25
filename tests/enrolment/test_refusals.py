"""Every enrolment error code of docs/decisions/0005, each with "nothing changed" checks."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import pytest

from netid.config import Settings
from netid.crypto.sm2 import Sm2PrivateKey
from netid.documents.chip import sign_chip
from netid.enrolment import models as m
from tests.conftest import Backend
from tests.enrolment.support import PIN, Device, World, make_world, other_face

pytestmark = pytest.mark.db


@pytest.fixture
def world(settings: Settings, db: Backend) -> World:
    return make_world(settings, db)


def code_of(answer: Any) -> str:
    return str(answer.json()["error"]["code"])


def refused(answer: Any, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    error: dict[str, Any] = answer.json()["error"]
    assert error["code"] == code
    return error


# -- start -------------------------------------------------------------------------------------
def test_chip_signature_invalid(world: World) -> None:
    device = Device(world.clock)
    before, sms = world.snapshot(), world.sms_count()
    chip = world.chip("adult")
    chip["data"]["name"] = "欧阳娜娜"  # altered after signing
    refused(world.start("adult", device, chip=chip), 400, "chip_signature_invalid")
    forged = world.chip("adult")
    other = Sm2PrivateKey.generate()
    from netid.documents import DocumentType
    from netid.documents.chip import ChipData

    data = ChipData(
        document_type=DocumentType.RESIDENT_ID,
        number=forged["data"]["number"],
        name=forged["data"]["name"],
        birth_date=dt.date.fromisoformat(forged["data"]["birth_date"]),
        sex=forged["data"]["sex"],
        nationality="CHN",
        issued_on=None,
        expires_on=None,
    )
    signed = dict(sign_chip(data, key=other, kid=world.kid, signed_at=world.clock.now()))
    refused(world.start("adult", device, chip=signed), 400, "chip_signature_invalid")
    assert world.snapshot() == before and world.sms_count() == sms
    assert ("enrolment.start", "chip_signature_invalid") in world.actions()


def test_chip_expired(world: World) -> None:
    device = Device(world.clock)
    chip = world.chip("adult")
    world.clock.advance(dt.timedelta(minutes=10, seconds=1))
    before = world.snapshot()
    refused(world.start("adult", device, chip=chip), 400, "chip_expired")
    assert world.snapshot() == before


@pytest.mark.parametrize("who", ["revoked", "deceased"])
def test_chip_stale_for_an_invalid_document_or_a_dead_person(world: World, who: str) -> None:
    before = world.snapshot()
    refused(world.start(who, Device(world.clock)), 409, "chip_stale")
    assert world.snapshot() == before


def test_chip_stale_when_the_chip_no_longer_matches_the_registry(world: World) -> None:
    chip = world.chip("adult", name="欧阳·丽丽")  # authentic, but the registry says otherwise
    before = world.snapshot()
    refused(world.start("adult", Device(world.clock), chip=chip), 409, "chip_stale")
    assert world.snapshot() == before


def test_a_device_key_must_be_a_public_p256_jwk(world: World) -> None:
    body = {"chip": world.chip("adult"), "device_jwk": {"kty": "OKP", "crv": "Ed25519", "x": "AA"}}
    refused(world.http.post("/v1/enrolments", json=body), 400, "device_key_invalid")
    assert world.count(m.Enrolment) == 0


# -- the steps ---------------------------------------------------------------------------------
def test_enrolment_not_found(world: World) -> None:
    for path, extra in (
        ("/v1/enrolments/face", {"face_image": "AAAA", "liveness": "a.b.c"}),
        ("/v1/enrolments/otp", {"code": "123456"}),
        ("/v1/enrolments/otp/resend", {}),
        ("/v1/enrolments/complete", {"pin": PIN, "proof": "a.b.c"}),
        ("/v1/enrolments/status", {}),
    ):
        answer = world.http.post(path, json={"enrolment_id": "x" * 22, **extra})
        refused(answer, 404, "enrolment_not_found")


def test_enrolment_expired(world: World) -> None:
    device = Device(world.clock)
    enrolment_id = world.start("adult", device).json()["enrolment_id"]
    world.clock.advance(dt.timedelta(minutes=30))
    before = world.snapshot()
    refused(world.face(enrolment_id, device), 409, "enrolment_expired")
    assert world.snapshot() == before


def test_steps_out_of_order(world: World) -> None:
    device = Device(world.clock)
    enrolment_id = world.start("adult", device).json()["enrolment_id"]
    before = world.snapshot()
    error = refused(world.otp(enrolment_id), 409, "enrolment_step_out_of_order")
    assert error["details"]["state"] == "face_pending"
    refused(world.complete(enrolment_id, device), 409, "enrolment_step_out_of_order")
    assert world.snapshot() == before
    assert world.face(enrolment_id, device).status_code == 200
    refused(world.face(enrolment_id, device), 409, "enrolment_step_out_of_order")
    refused(world.complete(enrolment_id, device), 409, "enrolment_step_out_of_order")
    assert world.otp(enrolment_id).status_code == 200
    assert world.complete(enrolment_id, device).status_code == 201
    refused(world.complete(enrolment_id, device), 409, "enrolment_step_out_of_order")


@pytest.mark.parametrize(
    "change",
    ["wrong_enrolment", "not_live", "stale", "other_key", "wrong_typ", "other_photo", "no_photo"],
)
def test_liveness_invalid(world: World, change: str) -> None:
    device = Device(world.clock)
    enrolment_id = world.start("adult", device).json()["enrolment_id"]
    liveness = {
        "wrong_enrolment": lambda: device.liveness("y" * 22),
        "not_live": lambda: device.liveness(enrolment_id, result="spoof"),
        "stale": lambda: device.liveness(enrolment_id, iat=device.now() - 61),
        "other_key": lambda: Device(world.clock).liveness(enrolment_id),
        # A result for another photo (replayed with this one), or for no photo at all.
        "other_photo": lambda: device.liveness(enrolment_id, other_face()),
        "no_photo": lambda: device.liveness(enrolment_id, image_sha256=None),
        "wrong_typ": lambda: device.sign(
            "netid-proof+jwt", {"enrolment_id": enrolment_id, "result": "live", "iat": device.now()}
        ),
    }[change]()
    before = world.snapshot()
    from tests.enrolment.support import live_photo

    answer = world.http.post(
        "/v1/enrolments/face",
        json={
            "enrolment_id": enrolment_id,
            "face_image": base64.b64encode(live_photo()).decode(),
            "liveness": liveness,
        },
    )
    refused(answer, 401, "liveness_invalid")
    assert world.snapshot() == before


def test_face_mismatch_counts_and_ends_the_enrolment_after_five(world: World) -> None:
    device = Device(world.clock)
    enrolment_id = world.start("adult", device).json()["enrolment_id"]
    for left in (4, 3, 2, 1, 0):
        error = refused(world.face(enrolment_id, device, other_face()), 403, "face_mismatch")
        assert error["details"]["tries_left"] == left
    refused(world.face(enrolment_id, device), 409, "enrolment_expired")
    with world.container.transaction(write=False) as session:
        row = session.query(m.Enrolment).one()
        assert row.face_sealed is None and row.state == "failed"


def test_pin_too_weak_and_proof_invalid_leave_the_enrolment_ready(world: World) -> None:
    device = Device(world.clock)
    enrolment_id = world.until_ready("adult", device)
    before = world.snapshot()
    for pin in ("12345", "111111", "123456", "987654", "890123", "aaaaaaaa", "x" * 65):
        refused(world.complete(enrolment_id, device, pin=pin), 400, "pin_too_weak")
    aud = f"{world.base}/v1/enrolments"
    for proof in (
        device.proof(f"{world.base}/v1/wallet", nonce=enrolment_id),  # wrong audience
        device.proof(aud, nonce="z" * 22),  # wrong nonce
        device.proof(aud),  # no nonce
        device.proof(aud, nonce=enrolment_id, iat=device.now() - 61),  # stale
        Device(world.clock).proof(aud, nonce=enrolment_id),  # another key
        device.proof(aud, nonce=enrolment_id, jti="short"),
    ):
        answer = world.http.post(
            "/v1/enrolments/complete",
            json={"enrolment_id": enrolment_id, "pin": PIN, "proof": proof},
        )
        refused(answer, 401, "proof_invalid")
    assert world.snapshot() == before
    assert world.count(m.NetworkIdentity) == 0 and world.count(m.Credential) == 0
    # A proof is accepted once.
    proof = device.proof(aud, nonce=enrolment_id)
    body = {"enrolment_id": enrolment_id, "pin": PIN, "proof": proof}
    assert world.http.post("/v1/enrolments/complete", json=body).status_code == 201


# -- one-time codes ------------------------------------------------------------------------------
def _at_otp(world: World) -> tuple[Device, str]:
    device = Device(world.clock)
    enrolment_id = world.start("adult", device).json()["enrolment_id"]
    assert world.face(enrolment_id, device).status_code == 200
    return device, enrolment_id


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_otp_five_tries_then_exhausted(world: World) -> None:
    _, enrolment_id = _at_otp(world)
    code = world.last_code()
    for left in (4, 3, 2, 1, 0):
        error = refused(world.otp(enrolment_id, _wrong(code)), 401, "otp_invalid")
        assert error["details"]["tries_left"] == left
    before = world.snapshot()
    refused(world.otp(enrolment_id, code), 429, "otp_exhausted")  # even the right one
    refused(
        world.http.post("/v1/enrolments/otp/resend", json={"enrolment_id": enrolment_id}),
        429,
        "otp_exhausted",
    )
    assert world.snapshot() == before


def test_otp_resend_keeps_the_tries(world: World) -> None:
    _, enrolment_id = _at_otp(world)
    first = world.last_code()
    for _ in range(3):
        refused(world.otp(enrolment_id, _wrong(first)), 401, "otp_invalid")
    sms = world.sms_count()
    resent = world.http.post("/v1/enrolments/otp/resend", json={"enrolment_id": enrolment_id})
    assert resent.status_code == 200 and "****" in resent.json()["phone_hint"]
    assert world.sms_count() == sms + 1
    second = world.last_code()
    error = refused(world.otp(enrolment_id, _wrong(second)), 401, "otp_invalid")
    assert error["details"]["tries_left"] == 1  # 3 before the resend + 1
    if second != first:
        refused(world.otp(enrolment_id, first), 401, "otp_invalid")  # the old code is gone
    else:
        refused(world.otp(enrolment_id, _wrong(second)), 401, "otp_invalid")
    refused(world.otp(enrolment_id, second), 429, "otp_exhausted")


def test_otp_expiry_is_five_minutes_inclusive(world: World) -> None:
    _, enrolment_id = _at_otp(world)
    code = world.last_code()
    world.clock.advance(dt.timedelta(minutes=5, seconds=1))
    refused(world.otp(enrolment_id, code), 401, "otp_expired")
    world.http.post("/v1/enrolments/otp/resend", json={"enrolment_id": enrolment_id})
    code = world.last_code()
    world.clock.advance(dt.timedelta(minutes=5))  # exactly at the boundary: still valid
    assert world.otp(enrolment_id, code).json() == {"state": "ready"}


def test_otp_is_used_once(world: World) -> None:
    _device, enrolment_id = _at_otp(world)
    code = world.last_code()
    assert world.otp(enrolment_id, code).status_code == 200
    refused(world.otp(enrolment_id, code), 409, "enrolment_step_out_of_order")
    with world.container.transaction(write=False) as session:
        row = session.query(m.OneTimeCode).one()
        assert row.used_at is not None


def test_a_code_typed_in_full_width_digits_is_the_same_code(world: World) -> None:
    device = Device(world.clock)
    enrolment_id = world.start("adult", device).json()["enrolment_id"]
    assert world.face(enrolment_id, device).status_code == 200
    full_width = "".join(chr(ord(d) - ord("0") + ord("０")) for d in world.last_code())
    answer = world.otp(enrolment_id, full_width)  # as a Chinese input method may type it
    assert answer.status_code == 200, answer.text
