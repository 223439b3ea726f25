"""The platform's public keys as one JSON document: a JWKS (RFC 7517 §5) for the JOSE keys and
SM2 keys as SubjectPublicKeyInfo PEM (JOSE has no registered SM2 algorithm)."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from netid.crypto import jose_keys
from netid.crypto.notes import Ed25519NoteVerifier, NoteVerifier, Sm2NoteVerifier
from netid.crypto.sm2 import Sm2PublicKey
from netid.keys.schemas import KeyPurpose, LoadedKey


def public_jose_key(key: LoadedKey) -> jose_keys.JosePublicKey | None:
    """The public JOSE key of an ``ed25519`` / ``es256`` / ``rs256`` keyring entry (its stored
    public bytes, see :func:`netid.keys.service.public_bytes`); ``None`` for other entries."""
    if key.public is None:
        return None
    if key.algorithm == "ed25519":
        return ed25519.Ed25519PublicKey.from_public_bytes(key.public)
    if key.algorithm == "es256":
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), key.public)
    if key.algorithm == "rs256":
        public = load_der_public_key(key.public)
        if not isinstance(public, rsa.RSAPublicKey):  # pragma: no cover - we wrote it
            raise TypeError("an rs256 keyring entry holds an RSA key")
        return public
    return None


def public_key_document(keys: list[LoadedKey]) -> dict[str, Any]:
    jwks: list[dict[str, str]] = []
    sm2: list[dict[str, str]] = []
    for key in keys:
        if key.public is None:
            continue
        if key.algorithm == "sm2-sm3":
            pem = Sm2PublicKey.from_uncompressed(key.public).to_pem().decode("ascii")
            sm2.append({"kid": key.key_id, "state": key.state.value, "pem": pem})
            continue
        jose_key = public_jose_key(key)
        if jose_key is not None:
            jwks.append(jose_keys.public_jwk(jose_key, key.key_id))
    return {"jwks": {"keys": jwks}, "sm2": sm2}


def note_verifiers(keys: list[LoadedKey], name: str) -> list[NoteVerifier]:
    """C2SP signed-note verifiers named ``name`` (the log origin) for every SM2 and Ed25519
    signing key, so checkpoints signed by rotated-out keys still verify."""
    verifiers: list[NoteVerifier] = []
    for key in keys:
        if key.public is None:
            continue
        if key.purpose == KeyPurpose.SM2_SIGNING:
            verifiers.append(Sm2NoteVerifier(name, Sm2PublicKey.from_uncompressed(key.public)))
        elif key.purpose == KeyPurpose.ED25519_SIGNING:
            verifiers.append(
                Ed25519NoteVerifier(name, ed25519.Ed25519PublicKey.from_public_bytes(key.public))
            )
    return verifiers


def with_log_verifier_keys(document: dict[str, Any], keys: list[LoadedKey], name: str) -> None:
    """Add ``"log": {"origin", "verifier_keys": [...]}`` (Go sumdb/note vkey lines) so an
    auditor can check checkpoints with standard tooling."""
    document["log"] = {
        "origin": name,
        "verifier_keys": [v.verifier_key_line() for v in note_verifiers(keys, name)],
    }
