"""Checking the public JWKs an institution registers for ``private_key_jwt`` (pure).

Accepted: EC P-256 (``ES256``, RFC 7518 §6.2.1), OKP Ed25519 (``EdDSA``/``Ed25519``, RFC 8037
§2) and SM2 as ``kty: EC, crv: SM2`` (no registered JOSE name; the point must lie on
sm2p256v1, GM/T 0003.5). A member ``d`` (or any other private member) means a private key was
sent: refused, never stored. What is stored is the key's public members only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from netid.crypto import jose_keys
from netid.crypto.errors import InvalidKeyMaterial
from netid.crypto.sm2 import FIELD_LENGTH, Sm2PublicKey
from netid.institutions.errors import InvalidPublicKey

# RFC 7518 §6.2.2 / §6.3.2 and RFC 8037 §2: members that only a private key has.
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_KEPT = ("kty", "crv", "x", "y", "kid", "alg", "use")
SM2_ALGORITHMS = frozenset({"SM2", "SM2-SM3"})
MAX_KID_LENGTH = 128


def _sm2_key(jwk: Mapping[str, Any]) -> None:
    alg = jwk.get("alg")
    if alg is not None and alg not in SM2_ALGORITHMS:
        raise InvalidKeyMaterial("The JWK alg does not match its key type.")
    try:
        x = jose_keys.b64url_decode(jwk.get("x"))  # type: ignore[arg-type]
        y = jose_keys.b64url_decode(jwk.get("y"))  # type: ignore[arg-type]
    except ValueError:
        raise InvalidKeyMaterial("The JWK coordinates are not base64url.") from None
    if len(x) != FIELD_LENGTH or len(y) != FIELD_LENGTH:
        raise InvalidKeyMaterial("The JWK coordinates have the wrong length.")
    Sm2PublicKey.from_uncompressed(b"\x04" + x + y)


def check_public_jwk(jwk: object, index: int) -> dict[str, Any]:
    """The public members of one valid JWK; raises :class:`InvalidPublicKey`."""
    details = {"index": index}
    if not isinstance(jwk, Mapping) or not all(isinstance(k, str) for k in jwk):
        raise InvalidPublicKey("A public key must be a JSON object (JWK).", details=details)
    if PRIVATE_MEMBERS & set(jwk):
        raise InvalidPublicKey(
            "A private key was sent; register only the public key.",
            details={**details, "reason": "private_key"},
        )
    kid = jwk.get("kid")
    if kid is not None and (not isinstance(kid, str) or not 1 <= len(kid) <= MAX_KID_LENGTH):
        raise InvalidPublicKey("The JWK kid is not a short string.", details=details)
    try:
        if jwk.get("kty") == "EC" and jwk.get("crv") == "SM2":
            use = jwk.get("use")
            if use is not None and use != "sig":
                raise InvalidKeyMaterial("The JWK is not a signature key.")
            _sm2_key(jwk)
        else:
            jose_keys.public_key_from_jwk(jwk)
    except InvalidKeyMaterial as exc:
        # The crypto message names members, never values, so it is safe to pass on.
        raise InvalidPublicKey(exc.message, details={**details, "reason": "invalid"}) from None
    return {name: jwk[name] for name in _KEPT if name in jwk}


def check_public_jwks(jwks: Sequence[object]) -> list[dict[str, Any]]:
    """Check every key; kids, where given, must be distinct (the assertion names one)."""
    keys = [check_public_jwk(jwk, i) for i, jwk in enumerate(jwks)]
    kids = [k["kid"] for k in keys if "kid" in k]
    if len(kids) != len(set(kids)):
        raise InvalidPublicKey("Two keys have the same kid.", details={"reason": "duplicate_kid"})
    return keys
