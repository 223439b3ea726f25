"""Compact JWS: signing, strict decoding, and every refusal of verify_compact."""

from __future__ import annotations

import json
from typing import Any

import pytest

from netid.credentials import jws
from netid.credentials.errors import (
    JwsAlgorithmNotAllowed,
    JwsHeaderNotAllowed,
    JwsMalformed,
    JwsSignatureInvalid,
    JwsTypeMismatch,
)
from netid.crypto import jose_keys
from netid.crypto.jose_keys import b64url_decode, b64url_encode

ES = jose_keys.generate_private_key("ES256")
ED = jose_keys.generate_private_key("EdDSA")


def _forge(header: dict[str, Any], payload: dict[str, Any], key: jose_keys.JosePrivateKey) -> str:
    """A token with exactly this header (the signature made with ``key``)."""
    signing_input = (
        b64url_encode(json.dumps(header).encode())
        + "."
        + b64url_encode(json.dumps(payload).encode())
    )
    return signing_input + "." + b64url_encode(jose_keys.sign(key, signing_input.encode()))


@pytest.mark.parametrize(("key", "alg"), [(ES, "ES256"), (ED, "Ed25519")])
def test_sign_and_verify(key: jose_keys.JosePrivateKey, alg: str) -> None:
    token = jws.sign_compact(key, header={"typ": "t+jwt", "kid": "k"}, payload={"a": 1, "名": "值"})
    header, payload = jws.verify_compact(token, key=key.public_key(), typ="t+jwt", algs={alg})
    assert header == {"alg": alg, "typ": "t+jwt", "kid": "k"}
    assert payload == {"a": 1, "名": "值"}
    # Compact separators, alg first.
    assert (
        b64url_decode(token.split(".")[0]) == f'{{"alg":"{alg}","typ":"t+jwt","kid":"k"}}'.encode()
    )


def test_sign_refuses_an_alg_that_does_not_match_the_key() -> None:
    with pytest.raises(ValueError):
        jws.sign_compact(ES, header={"alg": "EdDSA"}, payload={})


def test_key_chosen_from_the_header() -> None:
    token = jws.sign_compact(ED, header={"typ": "t", "kid": "two"}, payload={})
    keys = {"one": ES.public_key(), "two": ED.public_key()}
    header, _ = jws.verify_compact(
        token, key=lambda h: keys[h["kid"]], typ={"t", "u"}, algs={"Ed25519", "ES256"}
    )
    assert header["kid"] == "two"


def test_wrong_key_is_a_bad_signature() -> None:
    token = jws.sign_compact(ES, header={"typ": "t"}, payload={})
    other = jose_keys.generate_private_key("ES256").public_key()
    with pytest.raises(JwsSignatureInvalid):
        jws.verify_compact(token, key=other, typ="t", algs={"ES256"})


def test_tampered_payload_is_a_bad_signature() -> None:
    token = jws.sign_compact(ES, header={"typ": "t"}, payload={"a": 1})
    h, _, s = token.split(".")
    tampered = ".".join((h, b64url_encode(b'{"a":2}'), s))
    with pytest.raises(JwsSignatureInvalid):
        jws.verify_compact(tampered, key=ES.public_key(), typ="t", algs={"ES256"})


def test_alg_none_is_refused_even_if_listed() -> None:
    header = b64url_encode(b'{"alg":"none","typ":"t"}')
    payload = b64url_encode(b"{}")
    with pytest.raises((JwsAlgorithmNotAllowed, JwsMalformed)):
        jws.verify_compact(f"{header}.{payload}.", key=ES.public_key(), typ="t", algs={"none"})
    with pytest.raises(JwsAlgorithmNotAllowed):
        jws.verify_compact(
            f"{header}.{payload}.AAAA", key=ES.public_key(), typ="t", algs={"none", "ES256"}
        )


def test_alg_not_in_the_accepted_set() -> None:
    token = jws.sign_compact(ED, header={"typ": "t"}, payload={})
    with pytest.raises(JwsAlgorithmNotAllowed):
        jws.verify_compact(token, key=ED.public_key(), typ="t", algs={"ES256"})


def test_alg_that_does_not_match_the_key_type() -> None:
    # An EdDSA token checked against a P-256 key (alg confusion) never reaches verify().
    token = jws.sign_compact(ED, header={"typ": "t"}, payload={})
    with pytest.raises(JwsAlgorithmNotAllowed):
        jws.verify_compact(token, key=ES.public_key(), typ="t", algs={"ES256", "EdDSA"})


@pytest.mark.parametrize("typ", [None, "other", "T", 7, ["t"], {"t": 1}])
def test_wrong_typ(typ: object) -> None:
    header: dict[str, Any] = {"alg": "ES256"}
    if typ is not None:
        header["typ"] = typ
    token = _forge(header, {}, ES)
    with pytest.raises(JwsTypeMismatch):
        jws.verify_compact(token, key=ES.public_key(), typ="t", algs={"ES256"})


@pytest.mark.parametrize("member", ["jwk", "jku", "x5u", "x5c", "crit"])
def test_headers_that_name_a_key_or_an_extension(member: str) -> None:
    value: Any = ["b64"] if member == "crit" else jose_keys.public_jwk(ES, "x")
    token = _forge({"alg": "ES256", "typ": "t", member: value}, {}, ES)
    with pytest.raises(JwsHeaderNotAllowed):
        jws.verify_compact(token, key=ES.public_key(), typ="t", algs={"ES256"})


@pytest.mark.parametrize(
    "token",
    [
        "",
        "a.b",
        "a.b.c.d",
        "e30.e30.",  # empty signature
        "e30=.e30.AAAA",  # padding
        "W10.e30.AAAA",  # header is an array
        "e30.W10.AAAA",  # payload is an array
        "e30.e30.AAAA",  # no alg
        b64url_encode(b'{"alg":"ES256","alg":"ES256"}') + ".e30.AAAA",  # duplicate member
        b64url_encode(b'{"alg":"ES256"}') + "." + b64url_encode(b'{"a":NaN}') + ".AAAA",
        b64url_encode(b'{"alg":"ES256"}') + "." + b64url_encode(b"\xff") + ".AAAA",
        "é.e30.AAAA",
        "x" * 9000,
    ],
)
def test_malformed(token: str) -> None:
    with pytest.raises(JwsMalformed):
        jws.decode_unverified(token)
    with pytest.raises(JwsMalformed):
        jws.verify_compact(token, key=ES.public_key(), typ="t", algs={"ES256"})


def test_decode_unverified_returns_the_signing_input() -> None:
    token = jws.sign_compact(ES, header={"typ": "t"}, payload={"x": 1})
    header, payload, signing_input, signature = jws.decode_unverified(token)
    assert (header["typ"], payload) == ("t", {"x": 1})
    assert signing_input == token.rsplit(".", 1)[0].encode()
    assert len(signature) == 64
    jose_keys.verify(ES.public_key(), signature, signing_input)


def test_size_cap() -> None:
    token = jws.sign_compact(ES, header={"typ": "t"}, payload={"pad": "x" * 7000})
    with pytest.raises(JwsMalformed):
        jws.decode_unverified(token)
    assert jws.decode_unverified(token, max_length=20_000)[1]["pad"] == "x" * 7000
