"""Field sealing with SM4-GCM (GB/T 32907 block cipher, AEAD_SM4_GCM per RFC 8998).

Wire format of a sealed value (DESIGN.md "Sealed values")::

    version(1) = 0x01 ‖ key_id(8, ASCII) ‖ nonce(12) ‖ ciphertext ‖ tag(16)

The AAD binds the value to where it lives: ``table``, ``column``, ``row_id`` and ``key_id``, so a
value copied to another row, column or table, or relabelled with another key id, fails to open
(SEC-36). The AAD is the *length-prefixed* encoding of those fields behind a version label
(:func:`netid.crypto.sm3.length_prefixed`), not ``"table|column|row|key"``: the ``|`` join is not
injective (table ``"a|b"``, column ``"c"`` and table ``"a"``, column ``"b|c"`` would share an AAD).

Nonces are 96 random bits per value; with at most 2**32 values per key the collision probability
stays below 2**-32 (NIST SP 800-38D §8.3), which is why data keys rotate.
"""

from __future__ import annotations

import base64
import functools
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from netid.crypto import sm4 as _sm4
from netid.crypto.errors import SealedValueInvalid, UnknownKey
from netid.crypto.sm3 import length_prefixed

SEAL_VERSION = 1
KEY_ID_LENGTH = 8
NONCE_LENGTH = _sm4.GCM_NONCE_LENGTH
TAG_LENGTH = _sm4.GCM_TAG_LENGTH
SM4_KEY_LENGTH = _sm4.SM4_KEY_LENGTH
_HEADER = 1 + KEY_ID_LENGTH
_MIN_LENGTH = _HEADER + NONCE_LENGTH + TAG_LENGTH
_KEY_ID_RE = re.compile(r"^[0-9a-z]{8}\Z")
_AAD_LABEL = b"netid/sealed-value/v1"


def is_valid_key_id(key_id: str) -> bool:
    return bool(_KEY_ID_RE.match(key_id))


@dataclass(frozen=True)
class SealKey:
    """A symmetric SM4 key with its id. ``repr`` never shows the secret."""

    key_id: str
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not is_valid_key_id(self.key_id):
            raise ValueError("key id must be 8 characters of [0-9a-z]")
        if not isinstance(self.secret, bytes) or len(self.secret) != SM4_KEY_LENGTH:
            raise ValueError("an SM4 key is 16 bytes")


def new_key_id() -> str:
    """8 characters of [a-z2-7] (40 random bits): base32 (RFC 4648 §6) of 5 random bytes,
    so every character is uniform — no modulo bias — and the id fits ``[0-9a-z]{8}``.
    Per-person keys are made by the thousand per second in a bulk import, so this is lean."""
    return base64.b32encode(os.urandom(5)).decode("ascii").lower()


def generate_seal_key(key_id: str | None = None) -> SealKey:
    return SealKey(key_id or new_key_id(), os.urandom(SM4_KEY_LENGTH))


@functools.lru_cache(maxsize=256)
def _aad_prefix(table: str, column: str) -> bytes:
    return length_prefixed(_AAD_LABEL, table.encode("utf-8"), column.encode("utf-8"))


def _aad(table: str, column: str, row_id: str, key_id: str) -> bytes:
    # = length_prefixed(label, table, column, row_id, key_id); the constant head is cached
    # because sealing runs tens of thousands of times a second in a bulk import.
    return _aad_prefix(table, column) + length_prefixed(
        row_id.encode("utf-8"), key_id.encode("ascii")
    )


def seal(key: SealKey, plaintext: bytes, *, table: str, column: str, row_id: str) -> bytes:
    """Encrypt ``plaintext`` for the cell (``table``, ``column``, ``row_id``) under ``key``."""
    nonce = os.urandom(NONCE_LENGTH)
    body = _sm4.sm4_gcm_encrypt(
        key.secret, nonce, plaintext, _aad(table, column, row_id, key.key_id)
    )
    return bytes((SEAL_VERSION,)) + key.key_id.encode("ascii") + nonce + body


def sealed_key_id(sealed: bytes) -> str:
    """The key id a sealed value names (without opening it)."""
    if len(sealed) < _MIN_LENGTH or sealed[0] != SEAL_VERSION:
        raise SealedValueInvalid()
    try:
        key_id = bytes(sealed[1:_HEADER]).decode("ascii")
    except UnicodeDecodeError:
        raise SealedValueInvalid() from None
    if not is_valid_key_id(key_id):
        raise SealedValueInvalid()
    return key_id


KeyLookup = Mapping[str, SealKey] | Callable[[str], SealKey]


def _find_key(keys: KeyLookup, key_id: str) -> SealKey:
    if isinstance(keys, Mapping):
        found = keys.get(key_id)
        if found is None:
            raise UnknownKey(details={"key_id": key_id})
        return found
    try:
        return keys(key_id)
    except KeyError:
        # A lookup callable may signal "no such key" with KeyError or UnknownKey; anything
        # else (for example the key store being unavailable) propagates unchanged.
        raise UnknownKey(details={"key_id": key_id}) from None


def open_sealed(keys: KeyLookup, sealed: bytes, *, table: str, column: str, row_id: str) -> bytes:
    """Open a sealed value; raises :class:`SealedValueInvalid` or :class:`UnknownKey`."""
    key_id = sealed_key_id(sealed)
    key = _find_key(keys, key_id)
    if key.key_id != key_id:
        raise SealedValueInvalid()
    nonce = bytes(sealed[_HEADER : _HEADER + NONCE_LENGTH])
    body = bytes(sealed[_HEADER + NONCE_LENGTH :])
    return _sm4.sm4_gcm_decrypt(key.secret, nonce, body, _aad(table, column, row_id, key_id))
