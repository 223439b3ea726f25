"""The OP's own JWTs: signing ID tokens, ``at_hash``/``c_hash``, reading our own tokens back
(``id_token_hint``). Pure.

Serialisation and the strict compact parser are :mod:`netid.credentials.jws` (one JWS codec for
the platform): compact JSON, no NaN, duplicate members refused (RFC 7515 §5.2), ASCII only.
Reading a token back trusts nothing in it (RFC 8725 §3.1, §3.10): the caller names the allowed
``alg`` values, the key is ours, found by ``kid`` — never one the token names (``jwk``, ``jku``,
``x5u``, ``x5c``…) — and ``crit`` is refused since we implement no extension (RFC 7515
§4.1.11). Failures raise :class:`JwtInvalid` with a ``reason``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Collection, Mapping
from typing import Any, Final

from netid.credentials.errors import JwsMalformed
from netid.credentials.jws import FORBIDDEN_HEADER_MEMBERS, decode_unverified, sign_compact
from netid.crypto import jose_keys
from netid.crypto.errors import CryptoError

MAX_TOKEN_LENGTH: Final = 8192
# OIDC Core §3.1.3.6 / §3.3.2.11: the hash of the ID token's alg. Only the algorithms we sign
# ID tokens with are listed; EdDSA has no hash in OIDC Core (implementations use SHA-512 for
# Ed25519), so it is refused rather than guessed.
_LEFT_HASH: Final[Mapping[str, Any]] = {"RS256": hashlib.sha256, "ES256": hashlib.sha256}
_ED25519_NAMES: Final = jose_keys.ED25519_ALGORITHM_NAMES


class JwtInvalid(ValueError):
    """``reason``: ``malformed`` | ``algorithm_not_allowed`` | ``header_not_allowed`` |
    ``wrong_type`` | ``unknown_key`` | ``key_mismatch`` | ``bad_signature``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def encode_jws(
    claims: Mapping[str, Any], *, key: jose_keys.JosePrivateKey, kid: str, typ: str = "JWT"
) -> str:
    """A compact JWS of ``claims`` with the protected header ``{"alg", "kid", "typ"}``.

    ``alg`` follows the key (``RS256``, ``ES256``, ``Ed25519``); JSON with compact separators,
    UTF-8 (RFC 7519 §7.1). Raises ``ValueError`` for NaN/Infinity in the claims.
    """
    if not kid:
        raise ValueError("a JWS needs a kid")
    return sign_compact(key, header={"kid": kid, "typ": typ}, payload=claims)


def left_hash(value: str, alg: str) -> str:
    """``at_hash`` / ``c_hash`` (OIDC Core §3.1.3.6, §3.3.2.11): base64url of the left-most
    half of the hash of the ASCII octets of ``value``, with the hash of the ID token's ``alg``
    (SHA-256 for ``RS256`` and ``ES256``). Other algorithms raise ``ValueError``."""
    hash_function = _LEFT_HASH.get(alg)
    if hash_function is None:
        raise ValueError("no at_hash/c_hash is defined here for this alg")
    digest = hash_function(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


def _key_matches(alg: str, key: jose_keys.JosePublicKey) -> bool:
    try:
        key_alg = jose_keys.algorithm_of(key)
    except CryptoError:
        return False
    if alg in _ED25519_NAMES:
        return key_alg == "EdDSA"
    return key_alg == alg


def decode_platform_jws(
    token: str,
    keys: Mapping[str, jose_keys.JosePublicKey],
    *,
    algs: frozenset[str],
    typ: str | Collection[str] | None = None,
    max_length: int = MAX_TOKEN_LENGTH,
) -> dict[str, Any]:
    """Verify a compact JWS that *we* signed and return its claims (nothing else is checked:
    ``exp``, ``aud`` … are the caller's, e.g. RP-Initiated Logout ignores ``exp``).

    ``keys``: our public keys by key id (the ``kid`` the header must name). ``algs``: the
    accepted ``alg`` values (``none`` never is). ``typ``: if given, the header's ``typ`` must be
    one of these (compared case-insensitively, RFC 7515 §4.1.9); if ``None`` it is not checked.
    """
    try:
        header, claims, signing_input, signature = decode_unverified(token, max_length=max_length)
    except JwsMalformed:
        raise JwtInvalid("malformed") from None
    alg = header["alg"]  # decode_unverified guarantees a string
    if alg.lower() == "none" or alg not in algs:
        raise JwtInvalid("algorithm_not_allowed")
    if FORBIDDEN_HEADER_MEMBERS & header.keys():
        raise JwtInvalid("header_not_allowed")
    if typ is not None:
        accepted = {typ.lower()} if isinstance(typ, str) else {t.lower() for t in typ}
        header_typ = header.get("typ")
        if not isinstance(header_typ, str) or header_typ.lower() not in accepted:
            raise JwtInvalid("wrong_type")
    kid = header.get("kid")
    if not isinstance(kid, str) or kid not in keys:
        raise JwtInvalid("unknown_key")
    key = keys[kid]
    if not _key_matches(alg, key):  # an ES256 header never selects an RSA key, and so on
        raise JwtInvalid("key_mismatch")
    try:
        jose_keys.verify(key, signature, signing_input)
    except CryptoError:
        raise JwtInvalid("bad_signature") from None
    return claims
