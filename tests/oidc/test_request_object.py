"""Request objects (RFC 9101, OIDC Core §6.1): signed by a registered client key, for us."""

from __future__ import annotations

import json
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OKPKey

from netid.crypto import jose_keys
from netid.crypto.jose_keys import b64url_decode, b64url_encode
from netid.oidc.request_object import (
    CLOCK_SKEW_SECONDS,
    MAX_LIFETIME_SECONDS,
    RequestObjectInvalid,
    verify_request_object,
)

ISSUER = "https://op.example"
CLIENT = "c-bank"
NOW = 1_800_000_000
ES = jose_keys.generate_private_key("ES256")
ED = jose_keys.generate_private_key("EdDSA")
RSA = jose_keys.generate_private_key("RS256")
JWKS = [jose_keys.public_jwk(ES, "es-1"), jose_keys.public_jwk(ED, "ed-1")]


def claims(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": CLIENT,
        "aud": ISSUER,
        "iat": NOW,
        "exp": NOW + 120,
        "response_type": "code",
        "client_id": CLIENT,
        "redirect_uri": "https://bank.example/cb",
        "scope": "openid age",
        "state": "s1",
        "nonce": "n1",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def sign(
    body: dict[str, Any] | str,
    *,
    key: jose_keys.JosePrivateKey = ES,
    header: dict[str, Any] | str | None = None,
) -> str:
    if header is None:
        header = {"alg": "ES256", "kid": "es-1", "typ": "oauth-authz-req+jwt"}

    def part(value: dict[str, Any] | str) -> str:
        return b64url_encode((value if isinstance(value, str) else json.dumps(value)).encode())

    signing_input = f"{part(header)}.{part(body)}"
    return f"{signing_input}.{b64url_encode(jose_keys.sign(key, signing_input.encode()))}"


def verify(token: str, **kwargs: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {"client_id": CLIENT, "jwks": JWKS, "issuer": ISSUER, "now": NOW}
    return verify_request_object(token, **(arguments | kwargs))


def refused(token: str, reason: str, **kwargs: Any) -> None:
    with pytest.raises(RequestObjectInvalid) as error:
        verify(token, **kwargs)
    assert error.value.reason == reason
    assert isinstance(error.value, ValueError)


# --- accepted ------------------------------------------------------------------------------


def test_es256_request_object_returns_its_claims() -> None:
    assert verify(sign(claims())) == claims()


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "ES256", "kid": "es-1"},
        {"alg": "ES256"},  # no kid: every registered ES256 key is tried
        {"alg": "ES256", "typ": "JWT"},
        {"alg": "ES256", "typ": "OAUTH-AUTHZ-REQ+JWT"},  # media types are case-insensitive
    ],
)
def test_header_variants(header: dict[str, Any]) -> None:
    assert verify(sign(claims(), header=header))["state"] == "s1"


@pytest.mark.parametrize("alg", ["EdDSA", "Ed25519"])
def test_ed25519_request_objects(alg: str) -> None:
    token = sign(claims(), key=ED, header={"alg": alg, "kid": "ed-1"})
    assert verify(token)["nonce"] == "n1"


def test_request_objects_from_joserfc() -> None:
    """A request object made by an unmodified JOSE library with the client's private key."""
    es_jwk: dict[str, str | list[str]] = {
        **jose_keys.public_jwk(ES, "es-1"),
        "d": b64url_encode(jose_keys.private_bytes_raw(ES)),
    }
    es_private = ECKey.import_key(es_jwk)
    token = jwt.encode({"alg": "ES256", "kid": "es-1"}, claims(), es_private)
    assert verify(token) == claims()
    ed_jwk: dict[str, str | list[str]] = {
        k: v for k, v in jose_keys.public_jwk(ED, "ed-1").items() if k != "alg"
    }
    ed_jwk["d"] = b64url_encode(jose_keys.private_bytes_raw(ED))
    ed_private = OKPKey.import_key(ed_jwk)
    token = jwt.encode(
        {"alg": "Ed25519", "kid": "ed-1"}, claims(), ed_private, algorithms=["Ed25519"]
    )
    assert verify(token) == claims()


def test_audience_may_be_a_list_and_client_id_may_be_absent() -> None:
    assert verify(sign(claims(aud=["https://other", ISSUER])))["aud"] == ["https://other", ISSUER]
    assert "client_id" not in verify(sign(claims(client_id=None)))


def test_time_window_edges() -> None:
    # exp passed by less than the skew: still accepted; by the skew: refused.
    verify(sign(claims(iat=NOW - 200, exp=NOW - CLOCK_SKEW_SECONDS + 1)))
    refused(sign(claims(iat=NOW - 200, exp=NOW - CLOCK_SKEW_SECONDS)), "expired")
    # iat up to the skew in the future.
    verify(sign(claims(iat=NOW + CLOCK_SKEW_SECONDS, exp=NOW + 100)))
    refused(sign(claims(iat=NOW + CLOCK_SKEW_SECONDS + 1, exp=NOW + 100)), "not_yet_valid")
    # Lifetime of exactly 5 minutes is fine; a second more is not.
    verify(sign(claims(exp=NOW + MAX_LIFETIME_SECONDS)))
    refused(sign(claims(exp=NOW + MAX_LIFETIME_SECONDS + 1)), "lifetime_too_long")
    # Without iat, the remaining lifetime is bounded instead.
    verify(sign(claims(iat=None, exp=NOW + MAX_LIFETIME_SECONDS)))
    refused(sign(claims(iat=None, exp=NOW + MAX_LIFETIME_SECONDS + 1)), "lifetime_too_long")


# --- refused: the JWS ----------------------------------------------------------------------


def test_unsigned_request_objects_are_refused() -> None:
    header = b64url_encode(b'{"alg":"none"}')
    body = b64url_encode(json.dumps(claims()).encode())
    refused(f"{header}.{body}.", "malformed")  # OIDC Core §6.1's unsigned form
    refused(f"{header}.{body}.{b64url_encode(b'x')}", "algorithm_not_allowed")


@pytest.mark.parametrize("alg", ["none", "None", "HS256", "RS256", "PS256", "ES384", "es256"])
def test_algorithms_outside_the_client_table(alg: str) -> None:
    refused(sign(claims(), header={"alg": alg, "kid": "es-1"}), "algorithm_not_allowed")


def test_rs256_is_refused_even_with_an_rsa_key_registered() -> None:
    jwks = [*JWKS, jose_keys.public_jwk(RSA, "rsa-1")]
    token = sign(claims(), key=RSA, header={"alg": "RS256", "kid": "rsa-1"})
    refused(token, "algorithm_not_allowed", jwks=jwks)


@pytest.mark.parametrize("member", ["jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256", "crit"])
def test_headers_naming_keys_or_extensions(member: str) -> None:
    value: Any = ["exp"] if member == "crit" else jose_keys.public_jwk(ES, "es-1")
    refused(
        sign(claims(), header={"alg": "ES256", "kid": "es-1", member: value}), "header_not_allowed"
    )


@pytest.mark.parametrize("typ", ["at+jwt", "dc+sd-jwt", "", 5])
def test_wrong_typ(typ: Any) -> None:
    refused(sign(claims(), header={"alg": "ES256", "typ": typ}), "wrong_type")


def test_key_selection() -> None:
    refused(sign(claims(), header={"alg": "ES256", "kid": "nope"}), "no_matching_key")
    refused(sign(claims(), header={"alg": "ES256", "kid": 5}), "malformed")
    # An Ed25519 header over a client that registered only an ES256 key.
    only_es = [jose_keys.public_jwk(ES, "es-1")]
    refused(sign(claims(), key=ED, header={"alg": "EdDSA"}), "no_matching_key", jwks=only_es)
    # An ES256 header naming the Ed25519 key's kid.
    refused(sign(claims(), key=ED, header={"alg": "ES256", "kid": "ed-1"}), "no_matching_key")
    refused(sign(claims()), "no_matching_key", jwks=[])


def test_signature_checks() -> None:
    stranger = jose_keys.generate_private_key("ES256")
    refused(sign(claims(), key=stranger), "bad_signature")
    token = sign(claims())
    header, _body, signature = token.split(".")
    forged = b64url_encode(json.dumps(claims(scope="openid identity")).encode())
    refused(f"{header}.{forged}.{signature}", "bad_signature")
    damaged = bytearray(b64url_decode(signature))
    damaged[0] ^= 1
    refused(f"{header}.{_body}.{b64url_encode(bytes(damaged))}", "bad_signature")


@pytest.mark.parametrize(
    "token",
    [
        "",
        "a.b",
        "a.b.c.d",
        sign(claims()) + "=",
        sign(claims(pad="x" * 9000)),
        sign('{"iss":"c-bank","iss":"evil"}'),  # duplicate member (RFC 7515 §5.2)
        sign(claims(), header='{"alg":"ES256","alg":"none"}'),
        sign("[1,2]"),
    ],
)
def test_malformed(token: str) -> None:
    refused(token, "malformed")


# --- refused: the claims -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"iss": "c-other"}, "wrong_issuer"),
        ({"iss": None}, "wrong_issuer"),
        ({"iss": [CLIENT]}, "wrong_issuer"),
        ({"aud": "https://other"}, "wrong_audience"),
        ({"aud": None}, "wrong_audience"),
        ({"aud": [f"{ISSUER}/"]}, "wrong_audience"),
        ({"aud": ISSUER + "/oidc/authorize"}, "wrong_audience"),
        ({"exp": None}, "exp_invalid"),
        ({"exp": str(NOW + 60)}, "exp_invalid"),
        ({"exp": True}, "exp_invalid"),
        ({"exp": NOW + 60.5}, "exp_invalid"),
        ({"iat": "now"}, "iat_invalid"),
        ({"nbf": NOW + 31}, "not_yet_valid"),
        ({"nbf": False}, "nbf_invalid"),
        ({"iat": NOW, "exp": NOW}, "exp_invalid"),
        ({"iat": NOW - 600, "exp": NOW + 10}, "lifetime_too_long"),
        ({"client_id": "c-other"}, "client_id_mismatch"),
        ({"request": "eyJ..."}, "nested_request"),
        ({"request_uri": "https://bank.example/r"}, "nested_request"),
    ],
)
def test_claims_are_checked(changes: dict[str, Any], reason: str) -> None:
    refused(sign(claims(**changes)), reason)


def test_claims_are_read_only_after_the_signature() -> None:
    """A badly signed token with bad claims fails on the signature, not on the claims."""
    stranger = jose_keys.generate_private_key("ES256")
    refused(sign(claims(iss="evil", exp=0), key=stranger), "bad_signature")
