"""Verifying a ``private_key_jwt`` client assertion (RFC 7523 §3, OIDC Core §9). Pure.

The JWS is parsed here, strictly, and its signature checked with
:func:`netid.crypto.jose_keys.verify` against the client's *registered* public JWKs only:

* ``alg`` must be ``ES256`` (P-256) or ``EdDSA``/``Ed25519`` (RFC 8037 / RFC 9864); ``none``,
  ``HS*``, ``RS*`` and anything else are refused (ASVS 9.1.2), and the key used must be of the
  algorithm's type (an ES256 header never selects an Ed25519 key, and no key is ever used as an
  HMAC secret).
* A header carrying ``jku``, ``x5u``, ``jwk``, ``x5c`` or ``crit`` is refused: keys come from
  registration, never from the token (ASVS 9.1.3); we understand no critical extension
  (RFC 7515 §4.1.11).
* The claims are read only after the signature holds (ASVS 9.1.1): ``iss`` = ``sub`` = the
  client id (RFC 7523 §3 items 1–2), ``aud`` names the token endpoint URL (item 3), ``exp``
  present and not passed (item 4; 30 s skew), lifetime ``exp - iat`` (or ``exp - now`` without
  ``iat``) at most 5 minutes, ``nbf``/``iat`` not in the future beyond the skew (items 5–6), and
  ``jti`` present (item 7). The single use of the ``jti`` is the service's job (a table).

Every failure is :class:`~netid.oauth.errors.InvalidClient` (RFC 7523 §3.2) with a ``reason``
for the access record.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from netid.crypto import jose_keys
from netid.crypto.errors import CryptoError
from netid.oauth.errors import InvalidClient
from netid.oauth.schemas import (
    CLOCK_SKEW_SECONDS,
    MAX_ASSERTION_LIFETIME_SECONDS,
    AssertionClaims,
)

MAX_ASSERTION_LENGTH = 8192
MAX_JTI_LENGTH = 256
# RFC 8037 "EdDSA" and RFC 9864 "Ed25519" name the same Ed25519 signature.
_KEY_TYPE_FOR_ALG = {
    "ES256": ("EC", "P-256"),
    "EdDSA": ("OKP", "Ed25519"),
    "Ed25519": ("OKP", "Ed25519"),
}
_FORBIDDEN_HEADERS = frozenset({"jku", "x5u", "jwk", "x5c", "crit"})
_ALLOWED_TYP = frozenset({"jwt", "client-authentication+jwt"})


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:  # RFC 7515 §5.2 item 4: duplicate header names are refused
            raise ValueError("duplicate member")
        result[key] = value
    return result


def _json_object(segment: str, reason: str) -> dict[str, Any]:
    try:
        value = json.loads(jose_keys.b64url_decode(segment), object_pairs_hook=_reject_duplicates)
    except (ValueError, RecursionError):
        raise InvalidClient(reason) from None
    if not isinstance(value, dict):
        raise InvalidClient(reason)
    return value


def split_assertion(assertion: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """(header, unverified claims, signing input, signature): the shape only, nothing trusted."""
    if len(assertion) > MAX_ASSERTION_LENGTH or not assertion.isascii():
        raise InvalidClient("malformed")
    parts = assertion.split(".")
    if len(parts) != 3:
        raise InvalidClient("malformed")
    header = _json_object(parts[0], "malformed")
    claims = _json_object(parts[1], "malformed")
    try:
        signature = jose_keys.b64url_decode(parts[2])
    except ValueError:
        raise InvalidClient("malformed") from None
    return header, claims, f"{parts[0]}.{parts[1]}".encode("ascii"), signature


def unverified_client_id(claims: Mapping[str, Any]) -> str | None:
    """The ``iss`` the assertion claims, to find the client's keys (trusted only once verified)."""
    iss = claims.get("iss")
    return iss if isinstance(iss, str) and 0 < len(iss) <= 128 else None


def _check_header(header: Mapping[str, Any]) -> tuple[str, str | None]:
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in _KEY_TYPE_FOR_ALG:
        raise InvalidClient("algorithm_not_allowed")
    if _FORBIDDEN_HEADERS & header.keys():
        raise InvalidClient("untrusted_key_header")
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.lower() not in _ALLOWED_TYP):
        raise InvalidClient("wrong_type")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise InvalidClient("malformed")
    return alg, kid


def _candidate_keys(
    alg: str, kid: str | None, jwks: Sequence[Mapping[str, Any]]
) -> list[tuple[str | None, jose_keys.JosePublicKey]]:
    # The selection rules are shared with OIDC request objects (netid.oidc.request_object);
    # the algorithm table stays this module's own.
    return jose_keys.select_registered_keys(alg, kid, jwks, key_types=_KEY_TYPE_FOR_ALG)


def _int_claim(claims: Mapping[str, Any], name: str, *, required: bool) -> int | None:
    value = claims.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidClient(f"{name}_invalid")
    return value


def verify_client_assertion(
    assertion: str,
    *,
    client_id: str,
    jwks: Sequence[Mapping[str, Any]],
    audience: str,
    now: int,
) -> AssertionClaims:
    """Verify ``assertion`` for ``client_id`` with its registered ``jwks`` at time ``now``."""
    header, claims, signing_input, signature = split_assertion(assertion)
    alg, kid = _check_header(header)
    candidates = _candidate_keys(alg, kid, jwks)
    if not candidates:
        raise InvalidClient("no_matching_key")
    used_kid: str | None = None
    for candidate_kid, key in candidates:
        try:
            jose_keys.verify(key, signature, signing_input)
        except CryptoError:
            continue
        used_kid = candidate_kid
        break
    else:
        raise InvalidClient("bad_signature")

    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        raise InvalidClient("wrong_issuer")
    aud = claims.get("aud")
    if not (aud == audience or (isinstance(aud, list) and audience in aud)):
        raise InvalidClient("wrong_audience")
    exp = _int_claim(claims, "exp", required=True)
    assert exp is not None
    iat = _int_claim(claims, "iat", required=False)
    nbf = _int_claim(claims, "nbf", required=False)
    skew = CLOCK_SKEW_SECONDS
    if now >= exp + skew:
        raise InvalidClient("expired")
    if (iat is not None and iat > now + skew) or (nbf is not None and nbf > now + skew):
        raise InvalidClient("not_yet_valid")
    if iat is not None and exp <= iat:
        raise InvalidClient("exp_invalid")
    # Without iat the remaining lifetime is what we can bound (past exp, the skew check rules).
    lifetime = exp - iat if iat is not None else exp - now
    if lifetime > MAX_ASSERTION_LIFETIME_SECONDS:
        raise InvalidClient("lifetime_too_long")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
        raise InvalidClient("jti_missing")
    return AssertionClaims(client_id=client_id, jti=jti, expires_at=exp, key_id=used_kid)
