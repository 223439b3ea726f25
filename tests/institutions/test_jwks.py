"""Registered public keys: ES256, EdDSA and SM2 accepted; private, malformed, wrong-curve refused."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from netid.crypto import jose_keys
from netid.institutions.errors import InvalidPublicKey
from netid.institutions.jwks import check_public_jwk, check_public_jwks
from tests.institutions.support import ed25519_jwk, es256_jwk, sm2_jwk


def test_supported_keys_are_accepted_and_trimmed_to_public_members() -> None:
    keys = [es256_jwk("a"), ed25519_jwk("b"), sm2_jwk("c")]
    keys[0]["x5u"] = "https://attacker.example/"
    checked = check_public_jwks(keys)
    assert [k["kid"] for k in checked] == ["a", "b", "c"]
    assert "x5u" not in checked[0]
    assert checked[2]["crv"] == "SM2"


def _private_es256() -> dict[str, Any]:
    key = jose_keys.generate_private_key("ES256")
    jwk: dict[str, Any] = jose_keys.public_jwk(key, kid="p")
    jwk["d"] = jose_keys.b64url_encode(jose_keys.private_bytes_raw(key))
    return jwk


def _p384() -> dict[str, Any]:
    numbers = ec.generate_private_key(ec.SECP384R1()).public_key().public_numbers()
    return {
        "kty": "EC",
        "crv": "P-384",
        "x": jose_keys.b64url_encode(numbers.x.to_bytes(48, "big")),
        "y": jose_keys.b64url_encode(numbers.y.to_bytes(48, "big")),
    }


def _off_curve_sm2() -> dict[str, Any]:
    jwk: dict[str, Any] = sm2_jwk()
    y = bytearray(jose_keys.b64url_decode(jwk["y"]))
    y[-1] ^= 1
    jwk["y"] = jose_keys.b64url_encode(bytes(y))
    return jwk


def _p256_point_as_sm2() -> dict[str, Any]:
    jwk: dict[str, Any] = es256_jwk()
    jwk["crv"] = "SM2"
    del jwk["alg"]
    return jwk


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (_private_es256, "private_key"),
        (lambda: {**sm2_jwk(), "d": "AAAA"}, "private_key"),
        (_p384, "invalid"),
        (_off_curve_sm2, "invalid"),
        (_p256_point_as_sm2, "invalid"),
        (lambda: {**es256_jwk(), "alg": "EdDSA"}, "invalid"),
        (lambda: {**ed25519_jwk(), "x": "not base64!"}, "invalid"),
        (lambda: {"kty": "RSA", "n": "AQAB", "e": "AQAB"}, "invalid"),
        (lambda: {**es256_jwk(), "use": "enc"}, "invalid"),
    ],
)
def test_bad_keys_are_refused(build: Any, reason: str) -> None:
    with pytest.raises(InvalidPublicKey) as raised:
        check_public_jwk(build(), 0)
    assert raised.value.details["reason"] == reason
    assert raised.value.code == "invalid_public_key"


def test_duplicate_kids_and_non_objects_are_refused() -> None:
    with pytest.raises(InvalidPublicKey):
        check_public_jwks([es256_jwk("same"), ed25519_jwk("same")])
    with pytest.raises(InvalidPublicKey):
        check_public_jwks(["not a key"])
