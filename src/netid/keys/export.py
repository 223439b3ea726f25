"""The platform's public keys as one JSON document: a JWKS (RFC 7517 §5) for the JOSE keys and
SM2 keys as SubjectPublicKeyInfo PEM (JOSE has no registered SM2 algorithm)."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from netid.crypto import jose_keys
from netid.crypto.sm2 import Sm2PublicKey
from netid.keys.schemas import LoadedKey


def public_key_document(keys: list[LoadedKey]) -> dict[str, Any]:
    jwks: list[dict[str, str]] = []
    sm2: list[dict[str, str]] = []
    for key in keys:
        if key.public is None:
            continue
        if key.algorithm == "sm2-sm3":
            pem = Sm2PublicKey.from_uncompressed(key.public).to_pem().decode("ascii")
            sm2.append({"kid": key.key_id, "state": key.state.value, "pem": pem})
        elif key.algorithm == "ed25519":
            jwks.append(
                jose_keys.public_jwk(
                    ed25519.Ed25519PublicKey.from_public_bytes(key.public), key.key_id
                )
            )
        elif key.algorithm == "es256":
            point = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), key.public)
            jwks.append(jose_keys.public_jwk(point, key.key_id))
    return {"jwks": {"keys": jwks}, "sm2": sm2}
