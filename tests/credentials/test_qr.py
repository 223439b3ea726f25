"""The dynamic QR token: mint, strict read, then verify (signature, time window)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from netid.credentials import jws, qr
from netid.credentials.errors import QrExpired, QrForged, QrMalformed
from netid.crypto import jose_keys
from netid.crypto.jose_keys import b64url_encode

DEVICE = jose_keys.generate_private_key("ES256")
NOW = 1_800_000_000
NONCE = bytes(range(16))
REF = "Q1" + "x" * 110  # opaque base64url here; ~112 characters keep the QR text ≤ 400


def _mint(**overrides: Any) -> str:
    args: dict[str, Any] = {"ref": REF, "issued_at": NOW, "lifetime": 60, "nonce": NONCE}
    args.update(overrides)
    return qr.mint(DEVICE, **args)


def _forge(header: dict[str, Any], payload: dict[str, Any]) -> str:
    signing_input = (
        b64url_encode(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + b64url_encode(json.dumps(payload, separators=(",", ":")).encode())
    )
    return signing_input + "." + b64url_encode(jose_keys.sign(DEVICE, signing_input.encode()))


def _payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "ref": REF,
        "iat": NOW,
        "exp": NOW + 60,
        "nonce": b64url_encode(NONCE),
    }
    payload.update(overrides)
    return {k: v for k, v in payload.items() if v is not None}


def test_mint_read_verify() -> None:
    text = _mint()
    header, payload, _, _ = jws.decode_unverified(text)
    assert header == {"alg": "ES256", "typ": "netid-qr+jwt"}
    assert payload == {"ref": REF, "iat": NOW, "exp": NOW + 60, "nonce": "AAECAwQFBgcICQoLDA0ODw"}
    claims = qr.read(text)
    assert claims == qr.QrClaims(ref=REF, iat=NOW, exp=NOW + 60, nonce=NONCE)
    assert claims.nonce_text == "AAECAwQFBgcICQoLDA0ODw"
    assert qr.verify(text, DEVICE.public_key(), now=NOW + 10) == claims
    assert len(text) <= 400


def test_mint_draws_a_fresh_nonce_by_default() -> None:
    a = qr.read(qr.mint(DEVICE, ref=REF, issued_at=NOW))
    b = qr.read(qr.mint(DEVICE, ref=REF, issued_at=NOW))
    assert a.nonce != b.nonce and len(a.nonce) == 16
    assert a.exp - a.iat == 60


@pytest.mark.parametrize(
    "overrides",
    [
        {"lifetime": 61},
        {"lifetime": 0},
        {"nonce": b"short"},
        {"ref": ""},
        {"ref": "a b"},
        {"ref": "x" * 401},
    ],
)
def test_mint_refuses(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        _mint(**overrides)


def test_mint_needs_a_p256_key() -> None:
    with pytest.raises(ValueError):
        qr.mint(jose_keys.generate_private_key("EdDSA"), ref=REF, issued_at=NOW)


def test_mint_refuses_a_token_longer_than_600() -> None:
    with pytest.raises(ValueError):
        _mint(ref="x" * 400)


@pytest.mark.parametrize(
    ("header", "payload"),
    [
        ({"alg": "ES256", "typ": "netid-qr+jwt", "kid": "k"}, _payload()),  # extra header
        ({"alg": "ES256", "typ": "netid-proof+jwt"}, _payload()),  # wrong typ
        ({"alg": "EdDSA", "typ": "netid-qr+jwt"}, _payload()),
        ({"alg": "ES256", "typ": "netid-qr+jwt"}, _payload(extra=1)),  # extra member
        ({"alg": "ES256", "typ": "netid-qr+jwt"}, _payload(nonce=None)),  # missing member
        ({"alg": "ES256", "typ": "netid-qr+jwt"}, _payload(exp=NOW + 61)),  # lifetime > 60
        ({"alg": "ES256", "typ": "netid-qr+jwt"}, _payload(exp=NOW)),  # lifetime 0
        ({"alg": "ES256", "typ": "netid-qr+jwt"}, _payload(iat="1800000000")),
        ({"alg": "ES256", "typ": "netid-qr+jwt"}, _payload(iat=True, exp=30)),
        ({"alg": "ES256", "typ": "netid-qr+jwt"}, _payload(iat=float(NOW))),
        ({"alg": "ES256", "typ": "netid-qr+jwt"}, _payload(nonce=b64url_encode(bytes(15)))),
        ({"alg": "ES256", "typ": "netid-qr+jwt"}, _payload(nonce=b64url_encode(bytes(17)))),
        ({"alg": "ES256", "typ": "netid-qr+jwt"}, _payload(nonce="AAECAwQFBgcICQoLDA0ODw==")),
        ({"alg": "ES256", "typ": "netid-qr+jwt"}, _payload(ref="")),
        ({"alg": "ES256", "typ": "netid-qr+jwt"}, _payload(ref=7)),
        ({"alg": "ES256", "typ": "netid-qr+jwt"}, _payload(ref="has space")),
        ({"alg": "ES256", "typ": "netid-qr+jwt"}, _payload(ref="y" * 420)),  # > 600 chars
    ],
)
def test_read_is_strict(header: dict[str, Any], payload: dict[str, Any]) -> None:
    text = _forge(header, payload)
    with pytest.raises(QrMalformed):
        qr.read(text)
    with pytest.raises(QrMalformed):
        qr.verify(text, DEVICE.public_key(), now=NOW)


@pytest.mark.parametrize(
    "text", ["", "hello", "a.b.c", "https://example.test/?q=1", "x" * 601, "é"]
)
def test_read_refuses_other_texts(text: str) -> None:
    with pytest.raises(QrMalformed):
        qr.read(text)


def test_forged_signature() -> None:
    other = jose_keys.generate_private_key("ES256")
    text = qr.mint(other, ref=REF, issued_at=NOW, nonce=NONCE)
    qr.read(text)  # well formed: only the device key tells
    with pytest.raises(QrForged):
        qr.verify(text, DEVICE.public_key(), now=NOW)


def test_tampered_ref_is_forged() -> None:
    text = _mint()
    header, _, signature = text.split(".")
    tampered = ".".join(
        (header, b64url_encode(jws.dumps(_payload(ref="Q2" + "x" * 110))), signature)
    )
    qr.read(tampered)
    with pytest.raises(QrForged):
        qr.verify(tampered, DEVICE.public_key(), now=NOW)


def test_time_window_with_skew() -> None:
    text = _mint(lifetime=60)
    pub = DEVICE.public_key()
    qr.verify(text, pub, now=NOW + 60 + 30)  # exp + skew still accepted
    with pytest.raises(QrExpired):
        qr.verify(text, pub, now=NOW + 60 + 31)
    qr.verify(text, pub, now=NOW - 30)  # iat within skew of now
    with pytest.raises(QrExpired):
        qr.verify(text, pub, now=NOW - 31)
    with pytest.raises(QrExpired):
        qr.verify(text, pub, now=NOW + 61, skew=0)
