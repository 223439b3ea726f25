"""Self-contained bearer tokens MACed with HMAC-SM3: checked in microseconds, no database.

Format (``nat1``: netid access token, version 1)::

    nat1.<b64url(JCS(payload))>.<kid>.<b64url(HMAC-SM3(K_kid, "nat1." b64payload "." kid))>

* ``payload`` is a JSON object in RFC 8785 (JCS) form; ``kid`` is the id of a keyring key of
  purpose ``token_mac`` (algorithm ``hmac-sm3``); b64url is unpadded (RFC 7515 §2). The MAC
  covers the version, the payload and the key id, and is the full 32-byte HMAC-SM3 output.
* Verification checks, in this order (ASVS 9.1.1: integrity before anything is believed): the
  shape and size, the key id is a live ``token_mac`` key, the MAC (``hmac.compare_digest``), then
  the claims: ``typ`` (ASVS 9.2.2: an admin token is not an access token), ``aud`` exactly the
  expected audience (ASVS 9.2.3), ``exp`` in the future (RFC 7519 §4.1.4: not on or after it),
  ``iat`` not in the future beyond the skew, and ``exp - iat`` not above the type's maximum
  lifetime (so a leaked key cannot mint long-lived tokens that we would accept).
* Rotation: the verifier is given every live ``token_mac`` key (active and retiring), so tokens
  minted under the previous key stay valid for their few minutes after ``netid keys rotate
  token_mac``; retiring that key then ends them.
* Payload of an institution access token (``typ = "access"``): ``aud`` (``{public_url}/v1``),
  ``client_id``, ``institution_id``, ``institution_code``, ``scope``, ``iat``, ``exp``, ``jti``.
  Of an interim administrator token (``typ = "admin"``): ``aud`` (``{public_url}/admin``),
  ``actor``, ``role``, ``iat``, ``exp``, ``jti``.

What a token check does *not* do is read the institution's status: a pure check cannot know that
an institution was suspended a second ago. The API route checks the status in its own
transaction on every request (``InstitutionService.require_active``), so a suspended, frozen or
revoked institution is refused on its very next request, with its tokens still unexpired
(SEC-11). The token proves who the caller is; the database says whether it may act now.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from netid.crypto.jose_keys import b64url_decode, b64url_encode
from netid.crypto.sm3 import hmac_sm3
from netid.keys.schemas import KeyPurpose
from netid.keys.service import Keyring
from netid.oauth.errors import InvalidToken
from netid.oauth.schemas import (
    ACCESS_TOKEN_TTL_SECONDS,
    ADMIN_ROLES,
    CLOCK_SKEW_SECONDS,
    MAX_ADMIN_TOKEN_TTL_SECONDS,
    AccessClaims,
    AdminClaims,
)

TOKEN_VERSION = "nat1"  # noqa: S105 (a format label)
MAX_TOKEN_LENGTH = 4096
_MAC_LENGTH = 32
_KID_RE = re.compile(r"^[a-z0-9]{1,16}\Z")
_JTI_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}\Z")


def mac_keys(keyring: Keyring) -> dict[str, bytes]:
    """Every live ``token_mac`` key by id: what a verifier accepts (active and retiring)."""
    return {k.key_id: k.secret for k in keyring.all_of(KeyPurpose.TOKEN_MAC)}


def _canonical(payload: Mapping[str, Any]) -> bytes:
    # RFC 8785 for our value types (ASCII keys, str and int values).
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _signing_input(payload_b64: str, key_id: str) -> bytes:
    return f"{TOKEN_VERSION}.{payload_b64}.{key_id}".encode("ascii")


def _mint(payload: Mapping[str, Any], key_id: str, secret: bytes) -> str:
    if not _KID_RE.match(key_id):
        raise ValueError("not a keyring key id")
    payload_b64 = b64url_encode(_canonical(payload))
    mac = hmac_sm3(secret, _signing_input(payload_b64, key_id))
    return f"{TOKEN_VERSION}.{payload_b64}.{key_id}.{b64url_encode(mac)}"


def _open(token: str, keys: Mapping[str, bytes]) -> tuple[dict[str, Any], str]:
    """The MAC-checked payload and key id, or :class:`InvalidToken`."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        raise InvalidToken()
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != TOKEN_VERSION:
        raise InvalidToken()
    _, payload_b64, key_id, mac_b64 = parts
    secret = keys.get(key_id)
    if secret is None:
        raise InvalidToken()
    try:
        mac = b64url_decode(mac_b64)
    except ValueError:
        raise InvalidToken() from None
    expected = hmac_sm3(secret, _signing_input(payload_b64, key_id))
    if len(mac) != _MAC_LENGTH or not hmac.compare_digest(mac, expected):
        raise InvalidToken()
    try:
        payload = json.loads(b64url_decode(payload_b64))
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise InvalidToken() from None
    if not isinstance(payload, dict):
        raise InvalidToken()
    return payload, key_id


def _str(payload: Mapping[str, Any], name: str, max_length: int = 256) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise InvalidToken()
    return value


def _int(payload: Mapping[str, Any], name: str) -> int:
    value = payload.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidToken()
    return value


def _timestamp(now: dt.datetime | int) -> int:
    return now if isinstance(now, int) else int(now.timestamp())


def _check_common(
    payload: Mapping[str, Any], *, typ: str, audience: str, now: int, max_ttl: int
) -> tuple[int, int, str]:
    if payload.get("typ") != typ or payload.get("aud") != audience:
        raise InvalidToken()
    iat, exp = _int(payload, "iat"), _int(payload, "exp")
    if now >= exp or iat > now + CLOCK_SKEW_SECONDS or not 0 < exp - iat <= max_ttl:
        raise InvalidToken()
    return iat, exp, _str(payload, "jti", 64)


def _mint_typed(
    typ: str,
    claims: Mapping[str, Any],
    *,
    key_id: str,
    secret: bytes,
    audience: str,
    issued_at: int,
    ttl: int,
    max_ttl: int,
    too_long: str,
    jti: str,
) -> str:
    """Every token type's shared shape: ``typ``, ``aud``, ``iat``, ``exp`` = iat + ttl (at most
    ``max_ttl``), ``jti``, and the type's own ``claims``."""
    if not 0 < ttl <= max_ttl:
        raise ValueError(too_long)
    if not _JTI_RE.match(jti):
        raise ValueError("jti must be 16-64 base64url characters")
    payload = {
        **claims,
        "typ": typ,
        "aud": audience,
        "iat": issued_at,
        "exp": issued_at + ttl,
        "jti": jti,
    }
    return _mint(payload, key_id, secret)


def mint_access_token(
    *,
    key_id: str,
    secret: bytes,
    client_id: str,
    institution_id: str,
    institution_code: str,
    scope: str,
    audience: str,
    issued_at: int,
    ttl: int,
    jti: str,
) -> str:
    """An institution access token (``typ = "access"``). Pure: the caller supplies time and jti."""
    claims = {
        "client_id": client_id,
        "institution_id": institution_id,
        "institution_code": institution_code,
        "scope": scope,
    }
    return _mint_typed(
        "access",
        claims,
        key_id=key_id,
        secret=secret,
        audience=audience,
        issued_at=issued_at,
        ttl=ttl,
        max_ttl=ACCESS_TOKEN_TTL_SECONDS,
        too_long="access tokens live at most 10 minutes",
        jti=jti,
    )


def verify_access_token(
    token: str, keys: Mapping[str, bytes], now: dt.datetime | int, audience: str
) -> AccessClaims:
    """Check an institution access token; any failure is :class:`InvalidToken`."""
    payload, key_id = _open(token, keys)
    iat, exp, jti = _check_common(
        payload,
        typ="access",
        audience=audience,
        now=_timestamp(now),
        max_ttl=ACCESS_TOKEN_TTL_SECONDS,
    )
    return AccessClaims(
        client_id=_str(payload, "client_id"),
        institution_id=_str(payload, "institution_id"),
        institution_code=_str(payload, "institution_code"),
        scope=_str(payload, "scope"),
        audience=audience,
        issued_at=iat,
        expires_at=exp,
        jti=jti,
        key_id=key_id,
    )


def mint_admin_token(
    *,
    key_id: str,
    secret: bytes,
    actor: str,
    role: str,
    audience: str,
    issued_at: int,
    ttl: int,
    jti: str,
) -> str:
    """An interim administrator token (``typ = "admin"``)."""
    if role not in ADMIN_ROLES:
        raise ValueError("unknown administrator role")
    return _mint_typed(
        "admin",
        {"actor": actor, "role": role},
        key_id=key_id,
        secret=secret,
        audience=audience,
        issued_at=issued_at,
        ttl=ttl,
        max_ttl=MAX_ADMIN_TOKEN_TTL_SECONDS,
        too_long="administrator tokens live at most 12 hours",
        jti=jti,
    )


def verify_admin_token(
    token: str, keys: Mapping[str, bytes], now: dt.datetime | int, audience: str
) -> AdminClaims:
    payload, key_id = _open(token, keys)
    iat, exp, jti = _check_common(
        payload,
        typ="admin",
        audience=audience,
        now=_timestamp(now),
        max_ttl=MAX_ADMIN_TOKEN_TTL_SECONDS,
    )
    role = _str(payload, "role")
    if role not in ADMIN_ROLES:
        raise InvalidToken()
    return AdminClaims(
        actor=_str(payload, "actor", 128),
        role=role,
        audience=audience,
        issued_at=iat,
        expires_at=exp,
        jti=jti,
        key_id=key_id,
    )


# -- wallet sessions (docs/decisions/0005: typ "wallet", 15 minutes) ---------------------------
# Payload: ``aud`` ({public_url}/v1/wallet), ``cid`` (credential id), ``acr`` (L1 | L2 | L3),
# ``iat``, ``exp``, ``jti`` (the session id). Like every other token here it says who; the route
# reads the credential and the account on every request (revoked / deregistered: refused).
WALLET_TOKEN_TTL_SECONDS = 15 * 60
WALLET_ASSURANCE = ("L1", "L2", "L3")


@dataclass(frozen=True)
class WalletClaims:
    credential_id: str
    session_id: str
    assurance: str
    audience: str
    issued_at: int
    expires_at: int
    key_id: str


def mint_wallet_token(
    *,
    key_id: str,
    secret: bytes,
    credential_id: str,
    assurance: str,
    audience: str,
    issued_at: int,
    ttl: int,
    jti: str,
) -> str:
    """A citizen wallet session token (``typ = "wallet"``)."""
    if assurance not in WALLET_ASSURANCE:
        raise ValueError("unknown assurance level")
    return _mint_typed(
        "wallet",
        {"cid": credential_id, "acr": assurance},
        key_id=key_id,
        secret=secret,
        audience=audience,
        issued_at=issued_at,
        ttl=ttl,
        max_ttl=WALLET_TOKEN_TTL_SECONDS,
        too_long="wallet sessions live at most 15 minutes",
        jti=jti,
    )


def verify_wallet_token(
    token: str, keys: Mapping[str, bytes], now: dt.datetime | int, audience: str
) -> WalletClaims:
    """Check a wallet session token; any failure is :class:`InvalidToken`."""
    payload, key_id = _open(token, keys)
    iat, exp, jti = _check_common(
        payload,
        typ="wallet",
        audience=audience,
        now=_timestamp(now),
        max_ttl=WALLET_TOKEN_TTL_SECONDS,
    )
    assurance = _str(payload, "acr", 2)
    if assurance not in WALLET_ASSURANCE:
        raise InvalidToken()
    return WalletClaims(
        credential_id=_str(payload, "cid", 32),
        session_id=jti,
        assurance=assurance,
        audience=audience,
        issued_at=iat,
        expires_at=exp,
        key_id=key_id,
    )


# -- OpenID Connect access tokens (docs/decisions/0006: typ "oidc", 5 minutes) ----------------
# Payload: ``aud`` ({public_url}/oidc/userinfo), ``gid`` (the grant), ``cid`` (client id),
# ``iat``, ``exp``, ``jti``. The grant row is read on every use: revoking it (a replayed code)
# or the institution's freeze counts at once.
OIDC_TOKEN_TTL_SECONDS = 5 * 60


@dataclass(frozen=True)
class OidcAccessClaims:
    grant_id: str
    client_id: str
    audience: str
    issued_at: int
    expires_at: int
    jti: str
    key_id: str


def mint_oidc_token(
    *,
    key_id: str,
    secret: bytes,
    grant_id: str,
    client_id: str,
    audience: str,
    issued_at: int,
    ttl: int,
    jti: str,
) -> str:
    """An OpenID Connect access token for userinfo (``typ = "oidc"``)."""
    return _mint_typed(
        "oidc",
        {"gid": grant_id, "cid": client_id},
        key_id=key_id,
        secret=secret,
        audience=audience,
        issued_at=issued_at,
        ttl=ttl,
        max_ttl=OIDC_TOKEN_TTL_SECONDS,
        too_long="OpenID Connect access tokens live at most 5 minutes",
        jti=jti,
    )


def verify_oidc_token(
    token: str, keys: Mapping[str, bytes], now: dt.datetime | int, audience: str
) -> OidcAccessClaims:
    """Check an OpenID Connect access token; any failure is :class:`InvalidToken`."""
    payload, key_id = _open(token, keys)
    iat, exp, jti = _check_common(
        payload, typ="oidc", audience=audience, now=_timestamp(now), max_ttl=OIDC_TOKEN_TTL_SECONDS
    )
    return OidcAccessClaims(
        grant_id=_str(payload, "gid", 32),
        client_id=_str(payload, "cid", 64),
        audience=audience,
        issued_at=iat,
        expires_at=exp,
        jti=jti,
        key_id=key_id,
    )
