"""RS256 platform keys: RFC 7515 A.2 / RFC 7638 §3.1 known answers, strictness, joserfc check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from joserfc import jws
from joserfc.jwk import RSAKey

from netid.crypto.errors import InvalidKeyMaterial, SignatureInvalid
from netid.crypto.jose_keys import (
    CLIENT_KEY_TYPES,
    algorithm_of,
    b64url_decode,
    b64url_encode,
    generate_private_key,
    jwk_thumbprint,
    load_private_key,
    private_bytes_raw,
    public_jwk,
    public_key_from_jwk,
    select_registered_keys,
    sign,
    verify,
)

V = json.loads((Path(__file__).parent / "vectors" / "rfc7515_a2_rs256.json").read_text())
A2, T = V["rfc7515_a2"], V["rfc7638_3_1"]
_GENERATED = generate_private_key("RS256")  # one 2048-bit key for the module: generation is slow
assert isinstance(_GENERATED, rsa.RSAPrivateKey)
KEY: rsa.RSAPrivateKey = _GENERATED
WEAK = rsa.generate_private_key(65537, 1024)


def _int(jwk: dict[str, str], name: str) -> int:
    return int.from_bytes(b64url_decode(jwk[name]), "big")


def _a2_private_key() -> rsa.RSAPrivateKey:
    k = A2["jwk"]
    public = rsa.RSAPublicNumbers(_int(k, "e"), _int(k, "n"))
    numbers = rsa.RSAPrivateNumbers(
        _int(k, "p"),
        _int(k, "q"),
        _int(k, "d"),
        _int(k, "dp"),
        _int(k, "dq"),
        _int(k, "qi"),
        public,
    )
    return numbers.private_key()


def _split(token: str) -> tuple[bytes, bytes]:
    header, payload, signature = token.split(".")
    return f"{header}.{payload}".encode("ascii"), b64url_decode(signature)


# --- known answers -------------------------------------------------------------------------


def test_rfc7515_a2_signature_is_reproduced_exactly() -> None:
    key = _a2_private_key()
    signing_input, signature = _split(A2["jws"])
    header, payload, _ = A2["jws"].split(".")
    assert b64url_decode(header).decode() == A2["header_json"]
    assert b64url_decode(payload).decode() == A2["payload_json"]
    assert algorithm_of(key) == "RS256"
    assert len(signature) == 256
    assert sign(key, signing_input) == signature  # RSASSA-PKCS1-v1_5 is deterministic
    # The public JWK we publish has the RFC's n and e, and reading it back verifies A.2.
    jwk = public_jwk(key, "rfc7515")
    assert jwk == {
        "kty": "RSA",
        "n": A2["jwk"]["n"],
        "e": "AQAB",
        "kid": "rfc7515",
        "alg": "RS256",
        "use": "sig",
    }
    public = public_key_from_jwk(jwk, allow_rsa=True)
    verify(public, signature, signing_input)
    with pytest.raises(SignatureInvalid):
        verify(public, signature, signing_input + b" ")
    # Wrapping format: PKCS#8 DER, and it comes back as the same key.
    der = private_bytes_raw(key)
    again = load_private_key("RS256", der)
    assert isinstance(again, rsa.RSAPrivateKey)
    assert again.private_numbers() == key.private_numbers()
    assert sign(again, signing_input) == signature


def test_rfc7638_rsa_thumbprint() -> None:
    public = public_key_from_jwk(T["jwk"], allow_rsa=True)
    assert jwk_thumbprint(public) == T["thumbprint"]
    # kid/alg/use are not required members: they never change the thumbprint (§3.2).
    bare = {k: T["jwk"][k] for k in ("kty", "n", "e")}
    assert jwk_thumbprint(public_key_from_jwk(bare, allow_rsa=True)) == T["thumbprint"]


# --- generation, export, re-import ---------------------------------------------------------


def test_generated_key_is_rsa_2048_e65537_and_round_trips() -> None:
    assert isinstance(KEY, rsa.RSAPrivateKey)
    assert KEY.key_size == 2048
    assert KEY.public_key().public_numbers().e == 65537
    assert algorithm_of(KEY) == algorithm_of(KEY.public_key()) == "RS256"
    der = private_bytes_raw(KEY)
    # PKCS#8 PrivateKeyInfo: the same bytes cryptography writes for that format.
    assert der == KEY.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    again = load_private_key("RS256", der)
    assert private_bytes_raw(again) == der
    assert public_jwk(again, "k") == public_jwk(KEY, "k")
    verify(KEY.public_key(), sign(again, b"msg"), b"msg")


def _pkcs1(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def _pkcs8(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        bytes(32),
        b"\x30\x00",
        _pkcs1(KEY),  # PKCS#1 RSAPrivateKey: not the wrapping format
        _pkcs8(KEY) + b"\x00",  # trailing garbage
        _pkcs8(KEY)[:-1],
        _pkcs8(ec.generate_private_key(ec.SECP256R1())),  # not RSA
        _pkcs8(WEAK),  # below 2048 bits
        KEY.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        KEY.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw"),
        ),
    ],
)
def test_load_private_key_is_strict(raw: bytes) -> None:
    with pytest.raises(InvalidKeyMaterial):
        load_private_key("RS256", raw)


def test_load_private_key_refuses_non_bytes() -> None:
    with pytest.raises(InvalidKeyMaterial):
        load_private_key("RS256", "MIIE")  # type: ignore[arg-type]


def test_weak_rsa_keys_are_refused_everywhere() -> None:
    for key in (WEAK, WEAK.public_key()):
        with pytest.raises(InvalidKeyMaterial):
            algorithm_of(key)
        with pytest.raises(InvalidKeyMaterial):
            public_jwk(key, "k")
        with pytest.raises(InvalidKeyMaterial):
            jwk_thumbprint(key)
    with pytest.raises(InvalidKeyMaterial):
        sign(WEAK, b"m")
    with pytest.raises(InvalidKeyMaterial):
        private_bytes_raw(WEAK)
    signature = WEAK.sign(b"m", padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(InvalidKeyMaterial):
        verify(WEAK.public_key(), signature, b"m")
    # Exponent 3 (an old default) is outside FIPS 186-5 §A.1.1's range.
    n = KEY.public_key().public_numbers().n
    with pytest.raises(InvalidKeyMaterial):
        algorithm_of(rsa.RSAPublicNumbers(3, n).public_key())
    # A modulus above 4096 bits.
    with pytest.raises(InvalidKeyMaterial):
        algorithm_of(rsa.RSAPublicNumbers(65537, 2**4100 + 1).public_key())


# --- JWK -----------------------------------------------------------------------------------


def _rsa_jwk(**changes: Any) -> dict[str, Any]:
    jwk: dict[str, Any] = dict(public_jwk(KEY, "k1"))
    jwk.update(changes)
    return {k: v for k, v in jwk.items() if v is not None}


def test_public_jwk_shape() -> None:
    jwk = public_jwk(KEY, "kid-1")
    assert set(jwk) == {"kty", "n", "e", "kid", "alg", "use"}
    assert (jwk["kty"], jwk["e"], jwk["alg"], jwk["use"]) == ("RSA", "AQAB", "RS256", "sig")
    n = b64url_decode(jwk["n"])
    assert len(n) == 256 and n[0] != 0  # RFC 7518 §6.3.1.1: no leading zero octet
    assert public_jwk(public_key_from_jwk(jwk, allow_rsa=True), "kid-1") == jwk
    assert jwk_thumbprint(KEY) == jwk_thumbprint(KEY.public_key())


def test_rsa_jwks_are_refused_unless_asked_for() -> None:
    """Keys registered by institutions, devices and issuers are read without allow_rsa."""
    with pytest.raises(InvalidKeyMaterial, match="Only Ed25519"):
        public_key_from_jwk(_rsa_jwk())
    public_key_from_jwk(_rsa_jwk(), allow_rsa=True)
    public_key_from_jwk(_rsa_jwk(alg=None, use=None, kid=None), allow_rsa=True)


_N = public_jwk(KEY, "-")["n"]


@pytest.mark.parametrize(
    "jwk",
    [
        *[_rsa_jwk(**{m: "AQAB"}) for m in ("d", "p", "q", "dp", "dq", "qi")],
        _rsa_jwk(oth=[]),
        _rsa_jwk(alg="RS384"),
        _rsa_jwk(alg="ES256"),
        _rsa_jwk(alg=["RS256"]),
        _rsa_jwk(use="enc"),
        _rsa_jwk(n=None),
        _rsa_jwk(e=None),
        _rsa_jwk(n=42),
        _rsa_jwk(n=b64url_encode(b"\x00" + b64url_decode(_N))),  # leading zero octet
        _rsa_jwk(e="AAEAAQ"),  # 65537 as four octets: RFC 7518 §6.3.1.2 says MUST NOT
        _rsa_jwk(e=""),
        _rsa_jwk(e="Aw"),  # e = 3
        _rsa_jwk(e="AQAA"),  # even
        _rsa_jwk(n=b64url_encode(WEAK.public_key().public_numbers().n.to_bytes(128, "big"))),
        _rsa_jwk(n=b64url_encode(b"\xc1" * 513)),  # 4104 bits
        _rsa_jwk(n=b64url_encode(b"\xc1" * 8000)),  # refused before decoding
        _rsa_jwk(n=b64url_encode(b64url_decode(_N)[:-1] + b"\x00")),  # even modulus
        _rsa_jwk(n=_N + "="),  # padding
        _rsa_jwk(n=_N[:-1] + "+"),  # base64 (not url) alphabet
    ],
)
def test_bad_rsa_jwks_are_refused(jwk: dict[str, Any]) -> None:
    with pytest.raises(InvalidKeyMaterial):
        public_key_from_jwk(jwk, allow_rsa=True)


# --- signatures ----------------------------------------------------------------------------


def test_tampering_and_wrong_length_are_rejected() -> None:
    public = KEY.public_key()
    signature = sign(KEY, b"header.payload")
    assert len(signature) == 256
    verify(public, signature, b"header.payload")
    for bit in range(0, 2048, 61):
        damaged = bytearray(signature)
        damaged[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(SignatureInvalid):
            verify(public, bytes(damaged), b"header.payload")
    for bad in (b"", signature[:-1], signature + b"\x00", b"\x00" + signature, bytes(256)):
        with pytest.raises(SignatureInvalid):
            verify(public, bad, b"header.payload")
    with pytest.raises(SignatureInvalid):
        verify(public, signature, b"header.payloaD")
    with pytest.raises(SignatureInvalid):
        verify(_a2_private_key().public_key(), signature, b"header.payload")
    with pytest.raises(SignatureInvalid):
        verify(public, "not bytes", b"header.payload")  # type: ignore[arg-type]


def test_a_signature_without_its_leading_zero_octet_is_refused() -> None:
    """RFC 8017 §8.2.2 step 1: exactly k octets, even where the integer value is the same."""
    for i in range(5000):  # about 1 in 256 signatures starts with a zero octet
        message = b"m%d" % i
        signature = sign(KEY, message)
        if signature[0] == 0:
            break
    else:  # pragma: no cover
        pytest.skip("no signature with a leading zero octet drawn")
    verify(KEY.public_key(), signature, message)
    with pytest.raises(SignatureInvalid):
        verify(KEY.public_key(), signature[1:], message)


def test_es256_and_ed25519_signatures_never_pass_as_rs256() -> None:
    es = generate_private_key("ES256")
    with pytest.raises(SignatureInvalid):
        verify(KEY.public_key(), sign(es, b"m"), b"m")
    with pytest.raises(SignatureInvalid):
        verify(es.public_key(), sign(KEY, b"m"), b"m")


# --- cross-check with joserfc --------------------------------------------------------------


def test_joserfc_verifies_our_rs256_jws() -> None:
    jwk = public_jwk(KEY, "kid-x")
    header = b64url_encode(json.dumps({"alg": "RS256", "kid": "kid-x"}).encode())
    signing_input = f"{header}.{b64url_encode(b'{}')}"
    token = f"{signing_input}.{b64url_encode(sign(KEY, signing_input.encode()))}"
    key = RSAKey.import_key(dict(jwk))
    assert jws.deserialize_compact(token, key, algorithms=["RS256"]).payload == b"{}"
    assert key.thumbprint() == jwk_thumbprint(KEY)


def test_we_verify_joserfc_rs256_jws() -> None:
    private = RSAKey.import_key(KEY)
    token = jws.serialize_compact({"alg": "RS256"}, b"payload", private, algorithms=["RS256"])
    signing_input, signature = _split(token)
    verify(public_key_from_jwk(public_jwk(KEY, "k"), allow_rsa=True), signature, signing_input)


# --- registered (client) keys stay ES256 / EdDSA -------------------------------------------


def test_select_registered_keys_never_selects_rsa() -> None:
    es = generate_private_key("ES256")
    ed = generate_private_key("EdDSA")
    jwks = [public_jwk(KEY, "r"), public_jwk(es, "e"), public_jwk(ed, "d")]
    assert "RS256" not in CLIENT_KEY_TYPES
    assert select_registered_keys("RS256", None, jwks, key_types=CLIENT_KEY_TYPES) == []
    assert select_registered_keys("RS256", "r", jwks, key_types=CLIENT_KEY_TYPES) == []
    [(kid, key)] = select_registered_keys("ES256", None, jwks, key_types=CLIENT_KEY_TYPES)
    assert kid == "e" and jwk_thumbprint(key) == jwk_thumbprint(es)
    for alg in ("EdDSA", "Ed25519"):
        [(kid, key)] = select_registered_keys(alg, None, jwks, key_types=CLIENT_KEY_TYPES)
        assert kid == "d" and jwk_thumbprint(key) == jwk_thumbprint(ed)


def test_select_registered_keys_rules() -> None:
    es1, es2 = generate_private_key("ES256"), generate_private_key("ES256")
    unreadable = dict(public_jwk(es2, "bad")) | {"y": public_jwk(es2, "bad")["x"]}  # off-curve
    jwks: list[dict[str, Any]] = [
        public_jwk(es1, "a"),
        dict(public_jwk(es2, "b")) | {"alg": "EdDSA"},  # alg of another key type: skipped
        unreadable,
        {k: v for k, v in public_jwk(es2, "-").items() if k != "kid"},  # no kid
    ]
    found = select_registered_keys("ES256", None, jwks, key_types=CLIENT_KEY_TYPES)
    assert [kid for kid, _ in found] == ["a", None]
    assert [
        kid for kid, _ in select_registered_keys("ES256", "a", jwks, key_types=CLIENT_KEY_TYPES)
    ] == ["a"]
    assert select_registered_keys("ES256", "b", jwks, key_types=CLIENT_KEY_TYPES) == []
    assert select_registered_keys("HS256", None, jwks, key_types=CLIENT_KEY_TYPES) == []
    assert select_registered_keys("none", None, jwks, key_types=CLIENT_KEY_TYPES) == []


def test_client_assertions_still_refuse_rs256() -> None:
    """netid.oauth.assertion keeps its own table: an RS256 assertion over a registered RSA JWK
    is refused before any key is looked at (docs/decisions/0006)."""
    from netid.oauth.assertion import verify_client_assertion
    from netid.oauth.errors import InvalidClient

    claims = {"iss": "c1", "sub": "c1", "aud": "https://op/token", "exp": 1060, "jti": "j"}
    header = b64url_encode(json.dumps({"alg": "RS256", "kid": "r"}).encode())
    signing_input = f"{header}.{b64url_encode(json.dumps(claims).encode())}"
    token = f"{signing_input}.{b64url_encode(sign(KEY, signing_input.encode()))}"
    with pytest.raises(InvalidClient) as refused:
        verify_client_assertion(
            token,
            client_id="c1",
            jwks=[public_jwk(KEY, "r")],
            audience="https://op/token",
            now=1000,
        )
    assert refused.value.reason == "algorithm_not_allowed"
