"""SM2 with SM3 (GM/T 0003.2): the Annex A known answer, cross-checks against gmalg (a separate
pure-Python implementation that takes the user id explicitly), and rejection of bad input."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import gmalg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from gmalg.sm2 import SM2Core, _ecdlp
from gmalg.sm3 import SM3 as GmalgSM3
from hypothesis import given, settings
from hypothesis import strategies as st

from netid.crypto.errors import InvalidKeyMaterial, SignatureInvalid
from netid.crypto.sm2 import (
    SM2_N,
    SM2_P,
    SM2_USER_ID,
    Sm2PrivateKey,
    Sm2PublicKey,
    signature_der_to_raw,
    signature_raw_to_der,
    sm2_message_digest,
    sm2_za,
)
from netid.crypto.sm3 import sm3

V = json.loads((Path(__file__).parent / "vectors" / "sm2_gmt0003_annex_a.json").read_text())
D = bytes.fromhex(V["d"])
X, Y = bytes.fromhex(V["xA"]), bytes.fromhex(V["yA"])
PUBLIC = b"\x04" + X + Y
USER_ID = V["ID_ascii"].encode("ascii")
MESSAGE = V["M_ascii"].encode("ascii")
R, S = int(V["r"], 16), int(V["s"], 16)
ANNEX_A_DER = encode_dss_signature(R, S)


def _gmalg(sk: bytes | None, pk: bytes, uid: bytes = SM2_USER_ID) -> gmalg.SM2:
    return gmalg.SM2(sk=sk, uid=uid, pk=pk)


def _gmalg_sign(d: bytes, pk: bytes, message: bytes, uid: bytes) -> bytes:
    """Sign with gmalg's core so that any uid, including b"", can be used (the SM2 facade
    refuses an empty uid); returns DER."""
    point = (int.from_bytes(pk[1:33], "big"), int.from_bytes(pk[33:], "big"))
    r, s = SM2Core(_ecdlp, GmalgSM3()).sign(message, int.from_bytes(d, "big"), uid, point)
    return encode_dss_signature(r, s)


def _flip(data: bytes, bit: int) -> bytes:
    damaged = bytearray(data)
    damaged[bit // 8] ^= 1 << (bit % 8)
    return bytes(damaged)


# --- GM/T 0003 Annex A ---------------------------------------------------------------------


def test_user_id_constant_is_the_gmt0009_default() -> None:
    assert SM2_USER_ID == USER_ID == b"1234567812345678"


def test_annex_a_za_and_e() -> None:
    assert sm2_za(PUBLIC, USER_ID) == bytes.fromhex(V["ZA"])
    assert sm2_za(PUBLIC) == bytes.fromhex(V["ZA"])
    assert sm2_message_digest(PUBLIC, MESSAGE, USER_ID) == bytes.fromhex(V["e"])
    assert sm3(bytes.fromhex(V["ZA"]) + MESSAGE) == bytes.fromhex(V["e"])
    # gmalg computes ZA independently ("entity info").
    point = (int.from_bytes(X, "big"), int.from_bytes(Y, "big"))
    assert SM2Core(_ecdlp, GmalgSM3()).entity_info(USER_ID, point) == bytes.fromhex(V["ZA"])


def test_annex_a_public_key_derives_from_d() -> None:
    key = Sm2PrivateKey.from_private_value(D)
    assert key.public_key().uncompressed() == PUBLIC
    assert key.private_value() == D


def test_tongsuopy_verifies_annex_a_signature() -> None:
    # This is the proof that tongsuopy's implicit user id is SM2_USER_ID.
    Sm2PublicKey.from_uncompressed(PUBLIC).verify(ANNEX_A_DER, MESSAGE)


def test_gmalg_reproduces_annex_a_r_s_with_fixed_k() -> None:
    k = int(V["k"], 16)
    signer = gmalg.SM2(sk=D, uid=USER_ID, pk=PUBLIC, rnd_fn=lambda _bits: k)
    r, s = signer.sign(MESSAGE)
    assert (int.from_bytes(r, "big"), int.from_bytes(s, "big")) == (R, S)


def test_annex_a_signature_rejected_under_other_message_or_key() -> None:
    public = Sm2PublicKey.from_uncompressed(PUBLIC)
    with pytest.raises(SignatureInvalid):
        public.verify(ANNEX_A_DER, MESSAGE + b" ")
    with pytest.raises(SignatureInvalid):
        Sm2PrivateKey.generate().public_key().verify(ANNEX_A_DER, MESSAGE)


# --- cross-verification with gmalg ---------------------------------------------------------


@pytest.mark.parametrize("length", [0, 1, 31, 64, 1000])
def test_tongsuopy_signatures_verify_in_gmalg(length: int) -> None:
    key = Sm2PrivateKey.generate()
    message = os.urandom(length)
    raw = signature_der_to_raw(key.sign(message))
    oracle = _gmalg(None, key.public_key().uncompressed())
    assert oracle.verify(message, raw[:32], raw[32:])
    assert not oracle.verify(message + b"x", raw[:32], raw[32:])


@pytest.mark.parametrize("length", [0, 1, 31, 64, 1000])
def test_gmalg_signatures_verify_in_tongsuopy(length: int) -> None:
    sk, pk = gmalg.SM2().generate_keypair()
    sk = sk.rjust(32, b"\x00")  # gmalg returns minimal-length integers
    message = os.urandom(length)
    r, s = _gmalg(sk, pk).sign(message)
    der = encode_dss_signature(int.from_bytes(r, "big"), int.from_bytes(s, "big"))
    public = Sm2PublicKey.from_uncompressed(pk)
    public.verify(der, message)
    # and the same key loaded from its private value agrees on the public point
    assert Sm2PrivateKey.from_private_value(sk).public_key() == public


@pytest.mark.parametrize("other_id", [b"", b"ALICE123@YAHOO.COM", b"1234567812345677"])
def test_signature_under_another_user_id_is_rejected(other_id: bytes) -> None:
    key = Sm2PrivateKey.generate()
    public = key.public_key().uncompressed()
    der = _gmalg_sign(key.private_value(), public, MESSAGE, other_id)
    # gmalg accepts it under the id it was made with …
    raw = signature_der_to_raw(der)
    assert SM2Core(_ecdlp, GmalgSM3()).verify(
        MESSAGE,
        int.from_bytes(raw[:32], "big"),
        int.from_bytes(raw[32:], "big"),
        other_id,
        (int.from_bytes(public[1:33], "big"), int.from_bytes(public[33:], "big")),
    )
    # … our verifier, which uses SM2_USER_ID, does not (the OpenSSL < 4.0 empty-id trap).
    with pytest.raises(SignatureInvalid):
        key.public_key().verify(der, MESSAGE)
    # and the same key and message under the default id do verify
    key.public_key().verify(_gmalg_sign(key.private_value(), public, MESSAGE, SM2_USER_ID), MESSAGE)


# --- tampering and malformed input ---------------------------------------------------------


def test_sign_round_trip_is_randomised() -> None:
    key = Sm2PrivateKey.generate()
    a, b = key.sign(b"payload"), key.sign(b"payload")
    assert a != b
    key.public_key().verify(a, b"payload")
    key.public_key().verify(b, b"payload")


def test_tampered_message_is_rejected() -> None:
    key = Sm2PrivateKey.generate()
    message = b"QR credential 0001"
    signature = key.sign(message)
    for bit in range(len(message) * 8):
        with pytest.raises(SignatureInvalid):
            key.public_key().verify(signature, _flip(message, bit))


def test_every_signature_bit_flip_is_rejected() -> None:
    key = Sm2PrivateKey.generate()
    signature = key.sign(b"m")
    for bit in range(len(signature) * 8):
        with pytest.raises(SignatureInvalid):
            key.public_key().verify(_flip(signature, bit), b"m")


def _der_int(value: bytes) -> bytes:
    return b"\x02" + bytes((len(value),)) + value


@pytest.mark.parametrize(
    "signature",
    [
        b"",
        b"garbage",
        b"\x30\x00",
        encode_dss_signature(0, S),
        encode_dss_signature(R, 0),
        encode_dss_signature(SM2_N, S),
        encode_dss_signature(R, SM2_N),
        encode_dss_signature(R + SM2_N, S),
        encode_dss_signature(R, S + (1 << 256)),
        ANNEX_A_DER + b"\x00",  # trailing data
        b"\x30\x81" + ANNEX_A_DER[1:],  # BER long-form length
        b"\x30\x45" + ANNEX_A_DER[2:],  # wrong SEQUENCE length
        signature_der_to_raw(ANNEX_A_DER),  # raw r‖s is not the wire format
    ],
)
def test_malformed_signatures_raise_signature_invalid(signature: bytes) -> None:
    with pytest.raises(SignatureInvalid):
        Sm2PublicKey.from_uncompressed(PUBLIC).verify(signature, MESSAGE)


def test_non_canonical_der_of_a_valid_signature_is_rejected() -> None:
    # r = F5A0… has its top bit set, so DER already needs one 0x00; a second is non-minimal.
    r_bytes = b"\x00" + R.to_bytes(32, "big")
    s_bytes = b"\x00" + S.to_bytes(32, "big")
    body = _der_int(b"\x00" + r_bytes) + _der_int(s_bytes)
    padded = b"\x30" + bytes((len(body),)) + body
    with pytest.raises(SignatureInvalid):
        Sm2PublicKey.from_uncompressed(PUBLIC).verify(padded, MESSAGE)


@settings(max_examples=300)
@given(signature=st.binary(max_size=80))
def test_arbitrary_bytes_only_ever_raise_signature_invalid(signature: bytes) -> None:
    with pytest.raises(SignatureInvalid):
        Sm2PublicKey.from_uncompressed(PUBLIC).verify(signature, MESSAGE)


@settings(max_examples=100)
@given(r=st.integers(min_value=0, max_value=2**256 - 1), s=st.integers(0, 2**256 - 1))
def test_arbitrary_r_s_only_ever_raise_signature_invalid(r: int, s: int) -> None:
    with pytest.raises(SignatureInvalid):
        Sm2PublicKey.from_uncompressed(PUBLIC).verify(encode_dss_signature(r, s), MESSAGE)


# --- keys ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "point",
    [
        b"",
        PUBLIC[:-1],
        PUBLIC + b"\x00",
        b"\x02" + X,  # compressed form is not accepted
        b"\x03" + PUBLIC[1:],
        b"\x04" + X + (int.from_bytes(Y, "big") + 1).to_bytes(32, "big"),  # off the curve
        b"\x04" + bytes(64),  # (0, 0): not on the curve, "infinity" in some encodings
        b"\x04" + SM2_P.to_bytes(32, "big") + Y,  # x ≥ p
        b"\x00",
    ],
)
def test_bad_public_points_are_rejected(point: bytes) -> None:
    with pytest.raises(InvalidKeyMaterial):
        Sm2PublicKey.from_uncompressed(point)
    if len(point) == 65:
        with pytest.raises(InvalidKeyMaterial):
            sm2_za(point)


@pytest.mark.parametrize(
    "d",
    [
        b"",
        bytes(31),
        bytes(33),
        bytes(32),
        (SM2_N - 1).to_bytes(32, "big"),  # 1 + d ≡ 0 (mod n): no inverse (GM/T 0003.2 §6.1)
        SM2_N.to_bytes(32, "big"),
        b"\xff" * 32,
    ],
)
def test_bad_private_values_are_rejected(d: bytes) -> None:
    with pytest.raises(InvalidKeyMaterial):
        Sm2PrivateKey.from_private_value(d)


@pytest.mark.parametrize("d", [1, 2, SM2_N - 2])
def test_edge_private_values_work(d: int) -> None:
    key = Sm2PrivateKey.from_private_value(d.to_bytes(32, "big"))
    key.public_key().verify(key.sign(b"edge"), b"edge")
    raw = signature_der_to_raw(key.sign(b"edge"))
    assert _gmalg(None, key.public_key().uncompressed()).verify(b"edge", raw[:32], raw[32:])


def test_private_value_round_trip_and_secrecy() -> None:
    key = Sm2PrivateKey.generate()
    secret = key.private_value()
    assert len(secret) == 32
    again = Sm2PrivateKey.from_private_value(secret)
    assert again.public_key() == key.public_key()
    again.public_key().verify(key.sign(b"x"), b"x")
    assert secret.hex() not in repr(key).lower()
    assert secret.hex()[:16] not in repr(key).lower()
    with pytest.raises(TypeError):
        pickle.dumps(key)


def test_public_key_pem_round_trip_and_fingerprint() -> None:
    public = Sm2PublicKey.from_uncompressed(PUBLIC)
    pem = public.to_pem()
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----\n")
    loaded = Sm2PublicKey.from_pem(pem)
    assert loaded == public
    assert hash(loaded) == hash(public)
    assert loaded.uncompressed() == PUBLIC
    assert public.fingerprint() == sm3(PUBLIC).hex()
    loaded.verify(ANNEX_A_DER, MESSAGE)
    assert public != Sm2PrivateKey.generate().public_key()
    assert public != PUBLIC


def test_from_pem_rejects_other_keys_and_garbage() -> None:
    p256 = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    for pem in (b"", b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", p256):
        with pytest.raises(InvalidKeyMaterial):
            Sm2PublicKey.from_pem(pem)


def test_raw_der_conversion() -> None:
    raw = signature_der_to_raw(ANNEX_A_DER)
    assert raw == R.to_bytes(32, "big") + S.to_bytes(32, "big")
    assert signature_raw_to_der(raw) == ANNEX_A_DER
    small = encode_dss_signature(1, 2)
    assert signature_raw_to_der(signature_der_to_raw(small)) == small
    for bad in (raw[:-1], raw + b"\x00", bytes(64), SM2_N.to_bytes(32, "big") + raw[32:]):
        with pytest.raises(SignatureInvalid):
            signature_raw_to_der(bad)


def test_za_rejects_overlong_user_id() -> None:
    sm2_za(PUBLIC, b"x" * 8191)
    with pytest.raises(ValueError):
        sm2_za(PUBLIC, b"x" * 8192)
