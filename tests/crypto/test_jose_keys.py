"""JOSE platform keys: RFC 8037 / RFC 7515 known answers and a joserfc cross-check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from joserfc import jws
from joserfc.jwk import ECKey, OKPKey

from netid.crypto import jose_keys
from netid.crypto.errors import InvalidKeyMaterial, SignatureInvalid
from netid.crypto.jose_keys import (
    ED25519_JWS_ALG,
    JoseAlgorithm,
    algorithm_of,
    b64url_decode,
    b64url_encode,
    generate_private_key,
    jwk_thumbprint,
    load_private_key,
    private_bytes_raw,
    public_jwk,
    public_key_from_jwk,
    sign,
    verify,
)

V = json.loads((Path(__file__).parent / "vectors" / "jose_rfc8037_rfc7515.json").read_text())
ED, ES = V["ed25519"], V["es256"]
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
ALGS: list[JoseAlgorithm] = ["EdDSA", "ES256"]


def _split(token: str) -> tuple[bytes, bytes]:
    header, payload, signature = token.split(".")
    return f"{header}.{payload}".encode("ascii"), b64url_decode(signature)


def _compact(key: jose_keys.JosePrivateKey, header: dict[str, str], payload: bytes) -> str:
    signing_input = (
        b64url_encode(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + b64url_encode(payload)
    )
    return signing_input + "." + b64url_encode(sign(key, signing_input.encode("ascii")))


# --- known answers -------------------------------------------------------------------------


def test_rfc8037_ed25519_key_jwk_thumbprint_and_signature() -> None:
    key = load_private_key("EdDSA", b64url_decode(ED["d"]))
    jwk = public_jwk(key, "rfc8037")
    assert jwk == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": ED["x"],
        "kid": "rfc8037",
        "alg": ED25519_JWS_ALG,
        "use": "sig",
    }
    assert jwk_thumbprint(key) == ED["thumbprint"]  # RFC 8037 A.3
    signing_input, signature = _split(ED["jws"])
    assert sign(key, signing_input) == signature  # Ed25519 is deterministic: A.4 exactly
    verify(key.public_key(), signature, signing_input)  # A.5
    assert b64url_decode(ED["jws"].split(".")[1]) == ED["payload_ascii"].encode()
    assert private_bytes_raw(key) == b64url_decode(ED["d"])


def test_rfc7515_a3_es256_verifies() -> None:
    key = load_private_key("ES256", b64url_decode(ES["d"]))
    jwk = public_jwk(key.public_key(), "rfc7515")
    assert (jwk["kty"], jwk["crv"], jwk["x"], jwk["y"], jwk["alg"]) == (
        "EC",
        "P-256",
        ES["x"],
        ES["y"],
        "ES256",
    )
    signing_input, signature = _split(ES["jws"])
    assert len(signature) == 64
    public = public_key_from_jwk(jwk)
    verify(public, signature, signing_input)
    with pytest.raises(SignatureInvalid):
        verify(public, signature, signing_input + b" ")
    ours = sign(key, signing_input)
    assert len(ours) == 64
    verify(public, ours, signing_input)


# --- generation, export, re-import ---------------------------------------------------------


@pytest.mark.parametrize("alg", ALGS)
def test_generate_export_reimport(alg: JoseAlgorithm) -> None:
    key = generate_private_key(alg)
    assert algorithm_of(key) == alg
    assert algorithm_of(key.public_key()) == alg
    raw = private_bytes_raw(key)
    assert len(raw) == 32
    again = load_private_key(alg, raw)
    assert private_bytes_raw(again) == raw
    assert public_jwk(again, "k") == public_jwk(key, "k")
    verify(key.public_key(), sign(again, b"msg"), b"msg")
    assert private_bytes_raw(generate_private_key(alg)) != raw


@pytest.mark.parametrize(
    ("alg", "raw"),
    [
        ("EdDSA", b""),
        ("EdDSA", bytes(31)),
        ("ES256", bytes(33)),
        ("ES256", bytes(32)),
        ("ES256", P256_N.to_bytes(32, "big")),
        ("ES256", b"\xff" * 32),
    ],
)
def test_load_private_key_rejects_bad_input(alg: JoseAlgorithm, raw: bytes) -> None:
    with pytest.raises(InvalidKeyMaterial):
        load_private_key(alg, raw)


def test_unsupported_keys_and_algorithms() -> None:
    p384 = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(InvalidKeyMaterial):
        algorithm_of(p384)
    with pytest.raises(InvalidKeyMaterial):
        public_jwk(p384, "k")
    with pytest.raises(InvalidKeyMaterial):
        sign(p384, b"m")
    with pytest.raises(InvalidKeyMaterial):
        verify(p384.public_key(), bytes(64), b"m")
    with pytest.raises(ValueError):
        generate_private_key("RS384")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        load_private_key("RS384", bytes(32))  # type: ignore[arg-type]
    with pytest.raises(InvalidKeyMaterial):  # RS256 takes PKCS#8 DER (tests/crypto/test_jose_rs256)
        load_private_key("RS256", bytes(32))


# --- JWK -----------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ALGS)
def test_public_jwk_shape_and_round_trip(alg: JoseAlgorithm) -> None:
    key = generate_private_key(alg)
    jwk = public_jwk(key, "kid-1")
    expected = {"kty", "crv", "x", "kid", "alg", "use"} | ({"y"} if alg == "ES256" else set())
    assert set(jwk) == expected
    assert "d" not in jwk
    assert jwk["use"] == "sig"
    assert jwk["alg"] == (ED25519_JWS_ALG if alg == "EdDSA" else alg)
    assert len(b64url_decode(jwk["x"])) == 32
    public = public_key_from_jwk(jwk)
    verify(public, sign(key, b"m"), b"m")
    assert public_jwk(public, "kid-1") == jwk
    with pytest.raises(ValueError):
        public_jwk(key, "")


def test_es256_jwk_keeps_leading_zero_bytes() -> None:
    for _ in range(2000):  # a coordinate below 2**248 turns up with probability ~1/128 each
        key = ec.generate_private_key(ec.SECP256R1())
        numbers = key.public_key().public_numbers()
        if numbers.x < 2**248 or numbers.y < 2**248:
            break
    else:  # pragma: no cover
        pytest.skip("no short coordinate drawn")
    jwk = public_jwk(key, "k")
    assert len(b64url_decode(jwk["x"])) == 32
    assert len(b64url_decode(jwk["y"])) == 32
    public = public_key_from_jwk(jwk)
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert public.public_numbers() == numbers


def _ed_jwk(**changes: Any) -> dict[str, Any]:
    jwk: dict[str, Any] = {"kty": "OKP", "crv": "Ed25519", "x": ED["x"]}
    jwk.update(changes)
    return {k: v for k, v in jwk.items() if v is not None}


def _es_jwk(**changes: Any) -> dict[str, Any]:
    jwk: dict[str, Any] = {"kty": "EC", "crv": "P-256", "x": ES["x"], "y": ES["y"]}
    jwk.update(changes)
    return {k: v for k, v in jwk.items() if v is not None}


def test_public_key_from_jwk_accepts_both_ed25519_alg_names() -> None:
    public_key_from_jwk(_ed_jwk(alg="EdDSA"))
    public_key_from_jwk(_ed_jwk(alg="Ed25519"))
    public_key_from_jwk(_ed_jwk())
    public_key_from_jwk(_es_jwk(alg="ES256", use="sig", kid="x"))


@pytest.mark.parametrize(
    "jwk",
    [
        _ed_jwk(d=ED["d"]),  # private material in a public JWK
        _ed_jwk(kty="EC"),
        _ed_jwk(crv="Ed448"),
        _ed_jwk(crv="X25519"),
        _ed_jwk(alg="ES256"),
        _ed_jwk(alg=["EdDSA"]),  # unhashable: refused, not a TypeError
        _es_jwk(alg=["ES256"]),
        _ed_jwk(use="enc"),
        _ed_jwk(x=None),
        _ed_jwk(x=42),
        _ed_jwk(x=ED["x"] + "="),  # padding
        _ed_jwk(x=ED["x"][:-1] + "+"),  # base64 (not url) alphabet
        _ed_jwk(x=ED["x"][:-2]),  # 31 bytes
        _ed_jwk(x=ED["x"][:-1] + "p"),  # non-zero trailing bits: not canonical
        _es_jwk(y=None),
        _es_jwk(alg="EdDSA"),
        _es_jwk(crv="P-384"),
        _es_jwk(y=ES["x"]),  # off the curve
        _es_jwk(x=b64url_encode(bytes(32)), y=b64url_encode(bytes(32))),
        {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
        {},
    ],
)
def test_public_key_from_jwk_rejects_bad_jwks(jwk: dict[str, Any]) -> None:
    with pytest.raises(InvalidKeyMaterial):
        public_key_from_jwk(jwk)


# --- signatures ----------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ALGS)
def test_tampering_is_rejected(alg: JoseAlgorithm) -> None:
    key = generate_private_key(alg)
    signature = sign(key, b"header.payload")
    assert len(signature) == 64
    verify(key.public_key(), signature, b"header.payload")
    for bit in range(0, 512, 7):
        damaged = bytearray(signature)
        damaged[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(SignatureInvalid):
            verify(key.public_key(), bytes(damaged), b"header.payload")
    for bad in (b"", signature[:-1], signature + b"\x00", bytes(64)):
        with pytest.raises(SignatureInvalid):
            verify(key.public_key(), bad, b"header.payload")
    with pytest.raises(SignatureInvalid):
        verify(key.public_key(), signature, b"header.payloaD")
    with pytest.raises(SignatureInvalid):
        verify(generate_private_key(alg).public_key(), signature, b"header.payload")


def test_es256_rejects_der_and_out_of_range_r_s() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    der = key.sign(b"m", ec.ECDSA(hashes.SHA256()))
    with pytest.raises(SignatureInvalid):
        verify(key.public_key(), der, b"m")  # DER is not the JWS form (RFC 7518 §3.4)
    raw = sign(key, b"m")
    r, s = raw[:32], raw[32:]
    for bad in (bytes(32) + s, r + bytes(32), P256_N.to_bytes(32, "big") + s, b"\xff" * 32 + s):
        with pytest.raises(SignatureInvalid):
            verify(key.public_key(), bad, b"m")


def test_b64url_strictness() -> None:
    assert b64url_encode(b"\xfb\xff") == "-_8"
    assert b64url_decode("-_8") == b"\xfb\xff"
    assert b64url_decode("") == b""
    for bad in ("-_8=", "+/8", "a", "ab c", "-_9", "é"):
        with pytest.raises(ValueError):
            b64url_decode(bad)


# --- cross-check with joserfc --------------------------------------------------------------

# joserfc ≥1.8 warns that "EdDSA" is deprecated by RFC 9864; the bytes are the same as the
# fully-specified "Ed25519", so both names are exercised.
_JOSERFC_ALGS = [("EdDSA", "EdDSA"), ("EdDSA", "Ed25519"), ("ES256", "ES256")]


def _joserfc_key(jwk: dict[str, str]) -> OKPKey | ECKey:
    data: dict[str, str | list[str]] = dict(jwk)
    return OKPKey.import_key(data) if jwk["kty"] == "OKP" else ECKey.import_key(data)


@pytest.mark.filterwarnings("ignore::joserfc.errors.SecurityWarning")
@pytest.mark.parametrize(("alg", "jose_alg"), _JOSERFC_ALGS)
def test_joserfc_verifies_our_jws(alg: JoseAlgorithm, jose_alg: str) -> None:
    key = generate_private_key(alg)
    jwk = public_jwk(key, "kid-x")
    token = _compact(key, {"alg": jose_alg, "kid": "kid-x"}, b'{"sub":"n1"}')
    imported = dict(jwk) if jose_alg == jwk["alg"] else {k: v for k, v in jwk.items() if k != "alg"}
    result = jws.deserialize_compact(token, _joserfc_key(imported), algorithms=[jose_alg])
    assert result.payload == b'{"sub":"n1"}'
    assert _joserfc_key(jwk).thumbprint() == jwk_thumbprint(key)


@pytest.mark.filterwarnings("ignore::joserfc.errors.SecurityWarning")
@pytest.mark.parametrize(("alg", "jose_alg"), _JOSERFC_ALGS)
def test_we_verify_joserfc_jws(alg: JoseAlgorithm, jose_alg: str) -> None:
    key = generate_private_key(alg)
    private_jwk: dict[str, str] = {
        **public_jwk(key, "kid-y"),
        "d": b64url_encode(private_bytes_raw(key)),
    }
    del private_jwk["alg"]
    token = jws.serialize_compact(
        {"alg": jose_alg}, b"payload", _joserfc_key(private_jwk), algorithms=[jose_alg]
    )
    signing_input, signature = _split(token)
    verify(public_key_from_jwk(public_jwk(key, "kid-y")), signature, signing_input)
    with pytest.raises(SignatureInvalid):
        verify(key.public_key(), signature, signing_input + b"x")


def test_ed25519_type_checks() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    assert algorithm_of(key) == "EdDSA"
    assert jose_keys.export_public_pem(key).startswith(b"-----BEGIN PUBLIC KEY-----")
