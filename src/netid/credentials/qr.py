"""The dynamic QR token (docs/decisions/0005 "QR token"; standards.md §8).

A compact JWS ``{"alg": "ES256", "typ": "netid-qr+jwt"}`` signed by the wallet's device key over
exactly ``{"ref", "iat", "exp", "nonce"}``: ``ref`` is an opaque credential reference sealed by
the platform, ``nonce`` 16 random bytes (base64url), ``exp - iat ≤ 60``. The server opens
``ref`` before it knows which device key to check, so the order is :func:`read` (shape only)
then :func:`verify` (signature and time) with the key found through ``ref``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Final

from netid.credentials import jws
from netid.credentials.errors import (
    JwsError,
    JwsMalformed,
    QrExpired,
    QrForged,
    QrMalformed,
)
from netid.crypto.jose_keys import (
    JosePrivateKey,
    JosePublicKey,
    algorithm_of,
    b64url_decode,
    b64url_encode,
)

TYP: Final = "netid-qr+jwt"
ALG: Final = "ES256"
MAX_LIFETIME: Final = 60  # seconds
NONCE_BYTES: Final = 16
MAX_TEXT_LENGTH: Final = 600  # characters; the target is ≤ 400
MAX_REF_LENGTH: Final = 400
_MEMBERS: Final = frozenset({"ref", "iat", "exp", "nonce"})
_HEADER: Final = {"alg": ALG, "typ": TYP}
_REF_CHARS: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


@dataclass(frozen=True, slots=True)
class QrClaims:
    """The claims of a QR token (``nonce`` decoded to its 16 bytes)."""

    ref: str
    iat: int
    exp: int
    nonce: bytes

    @property
    def nonce_text(self) -> str:
        """The nonce as it appears in the token (base64url), e.g. as a replay-store key."""
        return b64url_encode(self.nonce)


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise QrMalformed()
    return value


def mint(
    device_key: JosePrivateKey,
    *,
    ref: str,
    issued_at: int,
    lifetime: int = MAX_LIFETIME,
    nonce: bytes | None = None,
) -> str:
    """Sign a QR token (wallet side) with the P-256 device key.

    ``lifetime`` 1–60 s; ``nonce`` exactly 16 bytes (fresh from ``secrets`` when omitted).
    """
    if nonce is None:
        nonce = secrets.token_bytes(NONCE_BYTES)
    if algorithm_of(device_key) != ALG:
        raise ValueError("the device key is a P-256 key")
    if not 0 < lifetime <= MAX_LIFETIME:
        raise ValueError("a QR token lives 1-60 seconds")
    if not isinstance(nonce, bytes) or len(nonce) != NONCE_BYTES:
        raise ValueError("the QR nonce is 16 bytes")
    if not ref or len(ref) > MAX_REF_LENGTH or not set(ref) <= _REF_CHARS:
        raise ValueError("the ref is 1-400 URL-safe characters")
    payload = {
        "ref": ref,
        "iat": issued_at,
        "exp": issued_at + lifetime,
        "nonce": b64url_encode(nonce),
    }
    token = jws.sign_compact(device_key, header={"typ": TYP}, payload=payload)
    if len(token) > MAX_TEXT_LENGTH:
        raise ValueError("the QR token would exceed 600 characters")
    return token


def read(text: str) -> QrClaims:
    """Parse a scanned QR text WITHOUT checking its signature; strict shape or :class:`QrMalformed`.

    Exactly the header ``{"alg": "ES256", "typ": "netid-qr+jwt"}``, exactly the members ref,
    iat, exp, nonce with their types, a 16-byte nonce, ``0 < exp - iat ≤ 60``, at most 600
    characters.
    """
    if not isinstance(text, str) or len(text) > MAX_TEXT_LENGTH:
        raise QrMalformed()
    try:
        header, payload, _, _ = jws.decode_unverified(text.strip(), max_length=MAX_TEXT_LENGTH)
    except JwsMalformed:
        raise QrMalformed() from None
    if header != _HEADER or payload.keys() != _MEMBERS:
        raise QrMalformed()
    ref = payload["ref"]
    if not isinstance(ref, str) or not 0 < len(ref) <= MAX_REF_LENGTH or not set(ref) <= _REF_CHARS:
        raise QrMalformed()
    iat, exp = _int(payload["iat"]), _int(payload["exp"])
    if not 0 < exp - iat <= MAX_LIFETIME:
        raise QrMalformed()
    nonce_text = payload["nonce"]
    try:
        nonce = b64url_decode(nonce_text)
    except ValueError:
        raise QrMalformed() from None
    if len(nonce) != NONCE_BYTES:
        raise QrMalformed()
    return QrClaims(ref=ref, iat=iat, exp=exp, nonce=nonce)


def verify(text: str, device_public_key: JosePublicKey, *, now: int, skew: int = 30) -> QrClaims:
    """Read, then check the device signature (:class:`QrForged`) and the time window
    (:class:`QrExpired`: ``now > exp + skew`` or ``iat > now + skew``)."""
    claims = read(text)
    try:
        jws.verify_compact(
            text.strip(), key=device_public_key, typ=TYP, algs={ALG}, max_length=MAX_TEXT_LENGTH
        )
    except JwsMalformed:  # pragma: no cover - read() has already checked the shape
        raise QrMalformed() from None
    except JwsError:
        raise QrForged() from None
    if now > claims.exp + skew or claims.iat > now + skew:
        raise QrExpired()
    return claims
