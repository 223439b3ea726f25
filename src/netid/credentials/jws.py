"""Compact JWS (RFC 7515 §7.1) over :mod:`netid.crypto.jose_keys`: sign, decode, verify.

Verification is deliberately narrow (RFC 8725 "JWT BCP" §3.1, §3.11): the caller names the
accepted ``alg`` values and ``typ``; ``alg: none`` is never accepted; the key comes from the
caller (our records), never from the token, so ``jwk``/``jku``/``x5u``/``x5c`` headers are
refused; and ``crit`` is refused because we implement no JWS extension (RFC 7515 §4.1.11: a
recipient that does not understand a critical extension MUST reject the JWS).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection, Mapping
from typing import Any, Final, TypeGuard

from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from netid.credentials.errors import (
    JwsAlgorithmNotAllowed,
    JwsHeaderNotAllowed,
    JwsMalformed,
    JwsSignatureInvalid,
    JwsTypeMismatch,
)
from netid.crypto.errors import InvalidKeyMaterial, SignatureInvalid
from netid.crypto.jose_keys import (
    ED25519_ALGORITHM_NAMES,
    ED25519_JWS_ALG,
    JosePrivateKey,
    JosePublicKey,
    algorithm_of,
    b64url_decode,
    b64url_encode,
    sign,
    verify,
)

MAX_TOKEN_LENGTH: Final = 8192  # characters; our tokens are far smaller (QR ≤ 600)
# Header members that would let the token choose its own key (RFC 8725 §3.10) or demand an
# extension we do not implement (RFC 7515 §4.1.11).
FORBIDDEN_HEADER_MEMBERS: Final = frozenset({"jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256", "crit"})

KeySource = JosePublicKey | Callable[[Mapping[str, Any]], JosePublicKey]


def dumps(obj: Any) -> bytes:
    """The JSON we sign: compact separators, UTF-8, no NaN/Infinity (RFC 8259 §6)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 7515 §5.2 step 4 / RFC 7519 §4: a JOSE header with duplicate member names MUST be
    # rejected (or take the last one); two parsers taking different ones is an attack, so reject.
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise ValueError("duplicate member")
        result[name] = value
    return result


def _no_constants(name: str) -> Any:
    raise ValueError("NaN/Infinity are not JSON")


def loads_object(data: bytes) -> dict[str, Any]:
    """Parse strict UTF-8 JSON that must be an object; ``ValueError`` otherwise."""
    try:
        text = data.decode("utf-8")
        value = json.loads(text, object_pairs_hook=_reject_duplicates, parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ValueError("not a JSON object") from None
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def loads_json(data: bytes) -> Any:
    """Parse strict UTF-8 JSON of any type (duplicates and NaN refused); ``ValueError``."""
    try:
        return json.loads(
            data.decode("utf-8"), object_pairs_hook=_reject_duplicates, parse_constant=_no_constants
        )
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ValueError("not JSON") from None


def sign_compact(
    key: JosePrivateKey, *, header: Mapping[str, Any], payload: Mapping[str, Any]
) -> str:
    """Sign ``payload`` as a compact JWS; ``alg`` is set from the key: "ES256", or for Ed25519
    the fully-specified "Ed25519" of RFC 9864 — the name our JWKs publish
    (``jose_keys.ED25519_JWS_ALG``), so that a strict verifier finds header and key agree.
    Readers accept "EdDSA" too.

    ``header`` gives the other members (``typ``, ``kid``…); an ``alg`` in it must match the key.
    """
    key_alg = algorithm_of(key)
    alg: str = ED25519_JWS_ALG if key_alg == "EdDSA" else key_alg
    if "alg" in header and header["alg"] not in (alg, key_alg):
        raise ValueError("the header alg does not match the key")
    full_header = {"alg": alg, **{k: v for k, v in header.items() if k != "alg"}}
    signing_input = f"{b64url_encode(dumps(full_header))}.{b64url_encode(dumps(payload))}"
    signature = sign(key, signing_input.encode("ascii"))
    return f"{signing_input}.{b64url_encode(signature)}"


def decode_unverified(
    token: str, *, max_length: int = MAX_TOKEN_LENGTH
) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """Split a compact JWS WITHOUT verifying it: ``(header, payload, signing_input, signature)``.

    Strict shape (RFC 7515 §5.2): a string of at most ``max_length`` ASCII characters, exactly
    three unpadded base64url parts, header and payload UTF-8 JSON objects without duplicate
    members, a non-empty signature, a string ``alg``. Anything else raises :class:`JwsMalformed`.
    """
    if not isinstance(token, str) or not 0 < len(token) <= max_length or not token.isascii():
        raise JwsMalformed()
    parts = token.split(".")
    if len(parts) != 3:
        raise JwsMalformed()
    try:
        header = loads_object(b64url_decode(parts[0]))
        payload = loads_object(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except ValueError:
        raise JwsMalformed() from None
    if not signature or not isinstance(header.get("alg"), str):
        raise JwsMalformed()
    return header, payload, f"{parts[0]}.{parts[1]}".encode("ascii"), signature


def _key_matches(alg: str, key: JosePublicKey) -> bool:
    if alg in ED25519_ALGORITHM_NAMES:
        return isinstance(key, ed25519.Ed25519PublicKey)
    if alg == "ES256":
        return isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1)
    return False


def check_header(
    header: Mapping[str, Any], *, typ: str | Collection[str], algs: Collection[str]
) -> str:
    """The header checks of :func:`verify_compact` alone; returns the ``alg``."""
    alg = header.get("alg")
    if not isinstance(alg, str) or alg.lower() == "none" or alg not in algs:
        raise JwsAlgorithmNotAllowed()
    accepted = {typ} if isinstance(typ, str) else set(typ)
    header_typ = header.get("typ")
    if not isinstance(header_typ, str) or header_typ not in accepted:
        raise JwsTypeMismatch()
    if FORBIDDEN_HEADER_MEMBERS & header.keys():
        raise JwsHeaderNotAllowed()
    return alg


def verify_compact(
    token: str,
    *,
    key: KeySource,
    typ: str | Collection[str],
    algs: Collection[str],
    max_length: int = MAX_TOKEN_LENGTH,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verify a compact JWS and return ``(header, payload)``.

    ``key`` is the public key, or a function of the (unverified) header that picks it (for
    example by ``kid``) and raises its own error when there is none. Refuses: a malformed token
    (:class:`JwsMalformed`); ``alg`` ``none`` or not in ``algs``, or not matching the key type
    (:class:`JwsAlgorithmNotAllowed`); ``typ`` not the expected one (:class:`JwsTypeMismatch`);
    ``crit`` or a header naming a key (:class:`JwsHeaderNotAllowed`); a bad signature
    (:class:`JwsSignatureInvalid`).
    """
    header, payload, signing_input, signature = decode_unverified(token, max_length=max_length)
    alg = check_header(header, typ=typ, algs=algs)
    public_key = key(header) if callable(key) else key
    if not _key_matches(alg, public_key):
        raise JwsAlgorithmNotAllowed()
    try:
        verify(public_key, signature, signing_input)
    except (SignatureInvalid, InvalidKeyMaterial):
        raise JwsSignatureInvalid() from None
    return header, payload


def is_numeric_date(value: object) -> TypeGuard[int | float]:
    """A JWT NumericDate (RFC 7519 §2): a finite, non-negative JSON number, not a boolean."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value) and value >= 0
