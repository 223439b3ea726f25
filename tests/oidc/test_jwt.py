"""The OP's JWTs: ID token signing, at_hash/c_hash known answers, reading our tokens back."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jws, jwt
from joserfc.jwk import ECKey, RSAKey

from netid.crypto import jose_keys
from netid.crypto.jose_keys import b64url_decode, b64url_encode
from netid.oidc.jwt import JwtInvalid, decode_platform_jws, encode_jws, left_hash

H = json.loads((Path(__file__).parent / "vectors" / "oidc_core_token_hashes.json").read_text())
RSA = rsa.generate_private_key(65537, 2048)
ES = jose_keys.generate_private_key("ES256")
ED = jose_keys.generate_private_key("EdDSA")
KEYS: dict[str, jose_keys.JosePublicKey] = {
    "rs": RSA.public_key(),
    "es": ES.public_key(),
    "ed": ED.public_key(),
}
BOTH = frozenset({"RS256", "ES256"})
CLAIMS = {"iss": "https://op.example", "sub": "p1", "aud": "c1", "exp": 2000, "iat": 1700}


def _segments(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = token.split(".")
    return json.loads(b64url_decode(header)), json.loads(b64url_decode(payload))


def _forge(header: dict[str, Any] | str, claims: dict[str, Any] | str, key: Any) -> str:
    def part(value: dict[str, Any] | str) -> str:
        text = value if isinstance(value, str) else json.dumps(value)
        return b64url_encode(text.encode())

    signing_input = f"{part(header)}.{part(claims)}"
    return f"{signing_input}.{b64url_encode(jose_keys.sign(key, signing_input.encode()))}"


# --- at_hash / c_hash ----------------------------------------------------------------------


@pytest.mark.parametrize("case", H["cases"], ids=lambda c: c["claim"])
def test_oidc_core_example_hashes(case: dict[str, str]) -> None:
    assert left_hash(case["value"], case["alg"]) == case["hash"]
    assert left_hash(case["value"], "ES256") == case["hash"]  # the same SHA-256


def test_left_hash_is_the_left_half_of_sha256() -> None:
    value = "an-access-token"
    independent = base64.urlsafe_b64encode(hashlib.sha256(value.encode()).digest()[:16])
    assert left_hash(value, "RS256") == independent.decode().rstrip("=")
    assert len(left_hash(value, "RS256")) == 22
    for alg in ("EdDSA", "HS256", "RS512", "none", ""):
        with pytest.raises(ValueError):
            left_hash(value, alg)


# --- encode_jws ----------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "kid", "alg"), [(RSA, "rs", "RS256"), (ES, "es", "ES256")])
def test_encode_jws_header_and_round_trip(
    key: jose_keys.JosePrivateKey, kid: str, alg: str
) -> None:
    token = encode_jws(CLAIMS, key=key, kid=kid)
    header, payload = _segments(token)
    assert header == {"alg": alg, "kid": kid, "typ": "JWT"}
    assert list(header) == ["alg", "kid", "typ"]
    assert payload == CLAIMS
    assert " " not in b64url_decode(token.split(".")[1]).decode()  # compact separators
    assert decode_platform_jws(token, KEYS, algs=BOTH) == CLAIMS
    assert decode_platform_jws(token, KEYS, algs=BOTH, typ="jwt") == CLAIMS


def test_encode_jws_typ_and_utf8() -> None:
    token = encode_jws({"name": "张三"}, key=ES, kid="es", typ="logout+jwt")
    header, payload = _segments(token)
    assert header["typ"] == "logout+jwt" and payload == {"name": "张三"}
    assert "张三".encode() in b64url_decode(token.split(".")[1])
    with pytest.raises(ValueError):
        encode_jws(CLAIMS, key=ES, kid="")
    with pytest.raises(ValueError):
        encode_jws({"x": float("nan")}, key=ES, kid="es")


def test_joserfc_validates_our_id_tokens() -> None:
    """An unmodified JOSE library, given only the public JWKs, accepts what we sign."""
    for key, kid, alg, key_class in ((RSA, "rs", "RS256", RSAKey), (ES, "es", "ES256", ECKey)):
        token = encode_jws(CLAIMS, key=key, kid=kid)
        public = key_class.import_key(dict(jose_keys.public_jwk(key, kid)))
        decoded = jwt.decode(token, public, algorithms=[alg])
        assert decoded.claims == CLAIMS and decoded.header["kid"] == kid


def test_we_read_joserfc_tokens_signed_with_our_key() -> None:
    token = jws.serialize_compact(
        {"alg": "RS256", "kid": "rs"},
        json.dumps(CLAIMS),
        RSAKey.import_key(RSA),
        algorithms=["RS256"],
    )
    assert decode_platform_jws(token, KEYS, algs=BOTH) == CLAIMS


# --- decode_platform_jws refusals ----------------------------------------------------------


def _refused(token: str, reason: str, **kwargs: Any) -> None:
    with pytest.raises(JwtInvalid) as refused:
        decode_platform_jws(token, KEYS, **({"algs": BOTH} | kwargs))
    assert refused.value.reason == reason
    assert isinstance(refused.value, ValueError)


def test_alg_none_and_algorithms_outside_the_allowlist() -> None:
    none_header = b64url_encode(b'{"alg":"none","kid":"rs"}')
    unsigned = f"{none_header}.{b64url_encode(b'{}')}."
    _refused(unsigned, "malformed")  # an empty signature does not even parse
    fake = unsigned + b64url_encode(b"x")
    _refused(fake, "algorithm_not_allowed")
    none_upper = _forge({"alg": "NONE", "kid": "rs"}, CLAIMS, RSA)
    _refused(none_upper, "algorithm_not_allowed", algs=frozenset({"NONE", "RS256"}))
    es_token = encode_jws(CLAIMS, key=ES, kid="es")
    _refused(es_token, "algorithm_not_allowed", algs=frozenset({"RS256"}))
    ed_token = _forge({"alg": "Ed25519", "kid": "ed"}, CLAIMS, ED)
    _refused(ed_token, "algorithm_not_allowed")
    assert decode_platform_jws(ed_token, KEYS, algs=frozenset({"Ed25519"})) == CLAIMS


def test_hs256_keyed_with_our_public_key_is_refused() -> None:
    header = b64url_encode(json.dumps({"alg": "HS256", "kid": "rs"}).encode())
    signing_input = f"{header}.{b64url_encode(json.dumps(CLAIMS).encode())}"
    secret = jose_keys.export_public_pem(RSA)
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    _refused(f"{signing_input}.{b64url_encode(mac)}", "algorithm_not_allowed")
    _refused(
        f"{signing_input}.{b64url_encode(mac)}",
        "key_mismatch",
        algs=frozenset({"HS256", "RS256"}),  # even if a caller allowed it, no key is an HMAC key
    )


@pytest.mark.parametrize("member", ["jwk", "jku", "x5u", "x5c", "x5t", "crit"])
def test_headers_naming_keys_or_extensions_are_refused(member: str) -> None:
    value: Any = ["exp"] if member == "crit" else jose_keys.public_jwk(RSA, "rs")
    token = _forge({"alg": "RS256", "kid": "rs", member: value}, CLAIMS, RSA)
    _refused(token, "header_not_allowed")


def test_kid_must_name_one_of_our_keys_of_the_right_type() -> None:
    _refused(_forge({"alg": "RS256"}, CLAIMS, RSA), "unknown_key")
    _refused(_forge({"alg": "RS256", "kid": 7}, CLAIMS, RSA), "unknown_key")
    _refused(_forge({"alg": "RS256", "kid": "other"}, CLAIMS, RSA), "unknown_key")
    # An ES256 header pointing at our RSA key, and an RS256 header pointing at the EC key.
    _refused(_forge({"alg": "ES256", "kid": "rs"}, CLAIMS, ES), "key_mismatch")
    _refused(_forge({"alg": "RS256", "kid": "es"}, CLAIMS, RSA), "key_mismatch")


def test_signatures_are_checked() -> None:
    token = encode_jws(CLAIMS, key=RSA, kid="rs")
    header, payload, signature = token.split(".")
    other = jose_keys.generate_private_key("RS256")
    _refused(encode_jws(CLAIMS, key=other, kid="rs"), "bad_signature")
    forged_payload = b64url_encode(json.dumps(CLAIMS | {"sub": "p2"}).encode())
    _refused(f"{header}.{forged_payload}.{signature}", "bad_signature")
    damaged = bytearray(b64url_decode(signature))
    damaged[-1] ^= 1
    _refused(f"{header}.{payload}.{b64url_encode(bytes(damaged))}", "bad_signature")
    _refused(f"{header}.{payload}.{b64url_encode(b64url_decode(signature)[:-1])}", "bad_signature")


def test_typ_is_checked_when_asked() -> None:
    token = encode_jws(CLAIMS, key=RSA, kid="rs", typ="at+jwt")
    _refused(token, "wrong_type", typ="JWT")
    assert decode_platform_jws(token, KEYS, algs=BOTH, typ={"JWT", "AT+JWT"}) == CLAIMS
    _refused(_forge({"alg": "RS256", "kid": "rs"}, CLAIMS, RSA), "wrong_type", typ="JWT")


@pytest.mark.parametrize(
    "token",
    [
        "",
        "a.b",
        "a.b.c.d",
        encode_jws(CLAIMS, key=ES, kid="es") + "=",
        "é" + encode_jws(CLAIMS, key=ES, kid="es"),
        encode_jws({"pad": "x" * 9000}, key=ES, kid="es"),  # over 8192 characters
    ],
)
def test_malformed_tokens(token: str) -> None:
    _refused(token, "malformed")


def test_duplicate_members_are_refused() -> None:
    header = '{"alg":"RS256","kid":"rs","kid":"es"}'
    _refused(_forge(header, CLAIMS, RSA), "malformed")
    _refused(_forge({"alg": "RS256", "kid": "rs"}, '{"sub":"a","sub":"b"}', RSA), "malformed")
    _refused(_forge({"alg": "RS256", "kid": "rs"}, "[1]", RSA), "malformed")
