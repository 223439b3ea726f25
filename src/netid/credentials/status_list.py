"""Token Status List (draft-ietf-oauth-status-list): encode, decode, sign and verify.

A list is a byte array holding ``bits`` ∈ {1, 2, 4, 8} per referenced token; entry ``i`` sits in
byte ``i * bits // 8``, starting at bit ``i * bits % 8`` counted from the least significant bit
(§4.1). ``lst`` is base64url (no padding) of the byte array compressed by DEFLATE in the ZLIB
format (RFC 1950/1951) at the highest level (§4.1: RECOMMENDED). The token is a JWT with
``typ: statuslist+jwt`` and payload ``{sub, iat, exp, ttl, status_list: {bits, lst}}`` (§5.1).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from netid.credentials import jws
from netid.credentials.errors import (
    JwsError,
    JwsMalformed,
    StatusListInvalid,
    StatusListMalformed,
    StatusListStale,
)
from netid.crypto.jose_keys import JosePrivateKey, JosePublicKey, b64url_decode, b64url_encode

VALID: Final = 0
INVALID: Final = 1  # revoked
SUSPENDED: Final = 2
ALLOWED_BITS: Final = frozenset({1, 2, 4, 8})
TYP: Final = "statuslist+jwt"
ALGS: Final = frozenset({"EdDSA", "Ed25519", "ES256"})
# Decompression-bomb cap: DEFLATE reaches ~1000:1, so a 100 KiB token could expand to 100 MiB.
# 1 MiB holds 2^20 entries at 8 bits (our lists: 2^17 entries × 2 bits = 32 KiB).
MAX_LIST_BYTES: Final = 1 << 20
MAX_TOKEN_LENGTH: Final = 512 * 1024


def _check_bits(bits: object) -> int:
    if isinstance(bits, bool) or not isinstance(bits, int) or bits not in ALLOWED_BITS:
        raise StatusListMalformed("A status list has 1, 2, 4 or 8 bits per entry.")
    return bits


@dataclass(frozen=True, slots=True)
class StatusList:
    """A decoded status list: ``bits`` per entry over ``data``; ``size`` entries."""

    bits: int
    data: bytes
    size: int

    def status(self, idx: int) -> int:
        """The status of entry ``idx``; out of range raises :class:`StatusListMalformed`."""
        if isinstance(idx, bool) or not isinstance(idx, int) or not 0 <= idx < self.size:
            raise StatusListMalformed("The status index is outside the status list.")
        position = idx * self.bits
        return (self.data[position // 8] >> (position % 8)) & ((1 << self.bits) - 1)


def pack(statuses: Sequence[int], bits: int) -> bytes:
    """The uncompressed byte array of §4.1 (the last byte zero-padded)."""
    _check_bits(bits)
    limit = 1 << bits
    out = bytearray((len(statuses) * bits + 7) // 8)
    for i, value in enumerate(statuses):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < limit:
            raise ValueError("a status does not fit in the list's bits")
        position = i * bits
        out[position // 8] |= value << (position % 8)
    return bytes(out)


def compress(data: bytes) -> str:
    """``lst`` of a byte array: base64url(ZLIB DEFLATE, level 9)."""
    return b64url_encode(zlib.compress(data, 9))


def encode(statuses: Sequence[int], bits: int) -> str:
    """The ``lst`` value for ``statuses`` (index 0 first) at ``bits`` per entry."""
    return compress(pack(statuses, bits))


def decode(
    lst: str, bits: int, size: int | None = None, *, max_bytes: int = MAX_LIST_BYTES
) -> StatusList:
    """Decode ``lst`` strictly; the output is capped at ``max_bytes`` (decompression bombs).

    ``size`` (entries), when given, must fit in the decoded bytes and bounds :meth:`status`;
    otherwise every entry the bytes hold is addressable.
    """
    _check_bits(bits)
    try:
        compressed = b64url_decode(lst)
    except ValueError:
        raise StatusListMalformed() from None
    inflater = zlib.decompressobj()  # wbits=15: the ZLIB format only, with its Adler-32 check
    try:
        data = inflater.decompress(compressed, max_bytes + 1)
    except zlib.error:
        raise StatusListMalformed() from None
    if len(data) > max_bytes or inflater.unconsumed_tail:
        raise StatusListMalformed("The status list is larger than allowed.")
    if not inflater.eof or inflater.unused_data or not data:
        raise StatusListMalformed()
    capacity = len(data) * 8 // bits
    if size is None:
        size = capacity
    elif isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= capacity:
        raise StatusListMalformed()
    return StatusList(bits=bits, data=data, size=size)


def sign_token(
    key: JosePrivateKey,
    kid: str,
    *,
    uri: str,
    iat: int,
    exp: int,
    ttl: int,
    lst: str,
    bits: int,
) -> str:
    """The Status List Token (§5.1): header ``{alg, typ: statuslist+jwt, kid}``, ``sub`` = uri."""
    _check_bits(bits)
    if not uri or not kid or exp <= iat or ttl <= 0:
        raise ValueError("a status list token needs uri, kid, exp > iat and ttl > 0")
    payload = {
        "sub": uri,
        "iat": iat,
        "exp": exp,
        "ttl": ttl,
        "status_list": {"bits": bits, "lst": lst},
    }
    return jws.sign_compact(key, header={"typ": TYP, "kid": kid}, payload=payload)


def verify_token(
    token: str,
    *,
    keys: Mapping[str, JosePublicKey],
    uri: str,
    now: int,
    skew: int = 30,
    max_bytes: int = MAX_LIST_BYTES,
) -> StatusList:
    """Verify a Status List Token (§8.3) and return its list.

    Refuses (:class:`StatusListInvalid`): an unknown ``kid``, a bad signature, a wrong ``typ``,
    ``sub`` other than ``uri`` (the list the credential points at), ``iat`` in the future, no
    ``exp`` or an expired one, and (:class:`StatusListStale`) a token older than its ``ttl``
    (``skew`` seconds of leeway each). A malformed token or list raises
    :class:`StatusListMalformed`.

    Why ``ttl`` is enforced here and not left to the caller's cache: a verifier given a token
    (a file, a cache, a proxy) cannot tell how old its copy is except by ``iat``, and the
    platform's tokens live a day (``exp``) while a lock or revocation must reach offline
    verifiers within ``ttl`` (§13.7: a consumer re-fetches once ``ttl`` has passed; decision
    0005 "Locks"). A token without ``exp`` would never go stale at all: refused (fail closed).
    """

    def pick(header: Mapping[str, object]) -> JosePublicKey:
        kid = header.get("kid")
        if not isinstance(kid, str) or kid not in keys:
            raise StatusListInvalid()
        return keys[kid]

    try:
        _, payload = jws.verify_compact(
            token, key=pick, typ=TYP, algs=ALGS, max_length=MAX_TOKEN_LENGTH
        )
    except JwsMalformed:
        raise StatusListMalformed() from None
    except JwsError:
        raise StatusListInvalid() from None
    if payload.get("sub") != uri:
        raise StatusListInvalid()
    iat, exp, ttl = payload.get("iat"), payload.get("exp"), payload.get("ttl")
    if not jws.is_numeric_date(iat):
        raise StatusListMalformed()
    if exp is not None and not jws.is_numeric_date(exp):
        raise StatusListMalformed()
    if ttl is not None and (not jws.is_numeric_date(ttl) or ttl <= 0):
        raise StatusListMalformed()
    body = payload.get("status_list")
    if not isinstance(body, dict) or not isinstance(body.get("lst"), str):
        raise StatusListMalformed()
    bits = _check_bits(body.get("bits"))
    if iat > now + skew:
        raise StatusListInvalid()
    if exp is None:
        raise StatusListInvalid("The status list token has no expiry.")
    if now >= exp + skew:
        raise StatusListInvalid("The status list token has expired.")
    if ttl is not None and now >= iat + ttl + skew:
        raise StatusListStale()
    return decode(body["lst"], bits, max_bytes=max_bytes)
