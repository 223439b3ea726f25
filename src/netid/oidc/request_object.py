"""Verifying a request object (RFC 9101; OIDC Core §6.1). Pure.

A request object is a JWS the client signs with one of its *registered* keys — the same keys
and the same selection rules as its ``private_key_jwt`` client assertions
(:func:`netid.crypto.jose_keys.select_registered_keys` with
:data:`~netid.crypto.jose_keys.CLIENT_KEY_TYPES`: ``ES256`` or ``EdDSA``/``Ed25519``, key type
matching the ``alg``):

* ``alg: none`` is refused (OIDC Core §6.1 permits unsigned request objects; RFC 9101 §10.2
  and docs/decisions/0006 do not), and so is every other ``alg`` outside the table;
* a header that names its own key (``jwk``, ``jku``, ``x5u``, ``x5c``…) or carries ``crit`` is
  refused (RFC 8725 §3.10; RFC 7515 §4.1.11);
* ``typ``, if present, is ``oauth-authz-req+jwt`` (RFC 9101 §10.8) or ``JWT``;
* only after the signature holds are the claims read: ``iss`` = the client id and ``aud`` =
  our issuer, string or list (RFC 9101 §6.3, §10.2), ``exp`` present and not passed (30 s
  skew), ``iat``/``nbf`` not in the future, a lifetime of at most 5 minutes (``exp - iat``, or
  ``exp - now`` without ``iat``), a ``client_id`` claim equal to the client id (§5), and no
  nested ``request``/``request_uri`` (§4: they "MUST NOT be included").

Failures raise :class:`RequestObjectInvalid` with a ``reason``; the service answers
``invalid_request_object`` (RFC 9101 §6.3).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from netid.credentials.errors import JwsMalformed
from netid.credentials.jws import FORBIDDEN_HEADER_MEMBERS, decode_unverified
from netid.crypto import jose_keys
from netid.crypto.errors import CryptoError

CLOCK_SKEW_SECONDS: Final = 30
MAX_LIFETIME_SECONDS: Final = 300
MAX_REQUEST_OBJECT_LENGTH: Final = 8192
_ALLOWED_TYP: Final = frozenset({"oauth-authz-req+jwt", "jwt"})


class RequestObjectInvalid(ValueError):
    """``reason``: ``malformed`` | ``algorithm_not_allowed`` | ``header_not_allowed`` |
    ``wrong_type`` | ``no_matching_key`` | ``bad_signature`` | ``wrong_issuer`` |
    ``wrong_audience`` | ``exp_invalid`` | ``iat_invalid`` | ``nbf_invalid`` | ``expired`` |
    ``not_yet_valid`` | ``lifetime_too_long`` | ``client_id_mismatch`` | ``nested_request``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _int_claim(claims: Mapping[str, Any], name: str, *, required: bool) -> int | None:
    value = claims.get(name)
    if value is None and not required:
        return None
    # RFC 7519 §2 NumericDate; fractions and booleans are refused to keep the checks exact.
    if not isinstance(value, int) or isinstance(value, bool):
        raise RequestObjectInvalid(f"{name}_invalid")
    return value


def _verify_signature(token: str, jwks: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    try:
        header, claims, signing_input, signature = decode_unverified(
            token, max_length=MAX_REQUEST_OBJECT_LENGTH
        )
    except JwsMalformed:
        raise RequestObjectInvalid("malformed") from None
    alg = header["alg"]
    if alg not in jose_keys.CLIENT_KEY_TYPES:  # "none", HS*, RS* … (case-sensitive names)
        raise RequestObjectInvalid("algorithm_not_allowed")
    if FORBIDDEN_HEADER_MEMBERS & header.keys():
        raise RequestObjectInvalid("header_not_allowed")
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.lower() not in _ALLOWED_TYP):
        raise RequestObjectInvalid("wrong_type")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise RequestObjectInvalid("malformed")
    candidates = jose_keys.select_registered_keys(
        alg, kid, jwks, key_types=jose_keys.CLIENT_KEY_TYPES
    )
    if not candidates:
        raise RequestObjectInvalid("no_matching_key")
    for _, key in candidates:
        try:
            jose_keys.verify(key, signature, signing_input)
        except CryptoError:
            continue
        return claims
    raise RequestObjectInvalid("bad_signature")


def verify_request_object(
    token: str,
    *,
    client_id: str,
    jwks: Sequence[Mapping[str, Any]],
    issuer: str,
    now: int,
) -> dict[str, Any]:
    """Verify ``token`` as ``client_id``'s request object for our ``issuer`` at time ``now``
    (seconds) and return its claims — the authorization request parameters it carries."""
    claims = _verify_signature(token, jwks)
    if claims.get("iss") != client_id:
        raise RequestObjectInvalid("wrong_issuer")
    aud = claims.get("aud")
    if not (aud == issuer or (isinstance(aud, list) and issuer in aud)):
        raise RequestObjectInvalid("wrong_audience")
    exp = _int_claim(claims, "exp", required=True)
    assert exp is not None
    iat = _int_claim(claims, "iat", required=False)
    nbf = _int_claim(claims, "nbf", required=False)
    if now >= exp + CLOCK_SKEW_SECONDS:
        raise RequestObjectInvalid("expired")
    if (iat is not None and iat > now + CLOCK_SKEW_SECONDS) or (
        nbf is not None and nbf > now + CLOCK_SKEW_SECONDS
    ):
        raise RequestObjectInvalid("not_yet_valid")
    if iat is not None and exp <= iat:
        raise RequestObjectInvalid("exp_invalid")
    # Without iat the remaining lifetime is what can be bounded (as for client assertions).
    lifetime = exp - iat if iat is not None else exp - now
    if lifetime > MAX_LIFETIME_SECONDS:
        raise RequestObjectInvalid("lifetime_too_long")
    if "client_id" in claims and claims["client_id"] != client_id:
        raise RequestObjectInvalid("client_id_mismatch")
    if "request" in claims or "request_uri" in claims:
        raise RequestObjectInvalid("nested_request")
    return claims
