"""SM3 (GB/T 32905-2016), HMAC-SM3 (RFC 2104) and the injective field encoding."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netid.crypto.sm3 import SM3_BLOCK_SIZE, SM3_DIGEST_SIZE, hmac_sm3, length_prefixed, sm3

VECTORS = json.loads((Path(__file__).parent / "vectors" / "sm3_gbt32905.json").read_text())


def _hmac_rfc2104(key: bytes, message: bytes) -> bytes:
    """HMAC built by hand from our SM3 (RFC 2104 §2), an independent check of hmac_sm3."""
    if len(key) > SM3_BLOCK_SIZE:
        key = sm3(key)
    key = key.ljust(SM3_BLOCK_SIZE, b"\x00")
    inner = sm3(bytes(b ^ 0x36 for b in key) + message)
    return sm3(bytes(b ^ 0x5C for b in key) + inner)


def _stdlib_sm3_available() -> bool:
    try:
        hashlib.new("sm3")
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("vector", VECTORS["sm3"]["vectors"])
def test_sm3_known_answers(vector: dict[str, Any]) -> None:
    assert sm3(vector["message_ascii"].encode("ascii")) == bytes.fromhex(vector["digest"])


@pytest.mark.parametrize("vector", VECTORS["hmac_sm3"]["vectors"])
def test_hmac_sm3_known_answer(vector: dict[str, Any]) -> None:
    mac = hmac_sm3(vector["key_ascii"].encode(), vector["message_ascii"].encode())
    assert mac == bytes.fromhex(vector["mac"])
    assert _hmac_rfc2104(vector["key_ascii"].encode(), vector["message_ascii"].encode()) == mac


def test_digest_size() -> None:
    assert len(sm3(b"")) == SM3_DIGEST_SIZE
    assert sm3(b"") != sm3(b"\x00")


@given(key=st.binary(max_size=150), message=st.binary(max_size=300))
def test_hmac_sm3_matches_rfc2104_construction(key: bytes, message: bytes) -> None:
    # Keys longer than the 64-byte block are hashed first (RFC 2104 §2); covered by max_size.
    assert hmac_sm3(key, message) == _hmac_rfc2104(key, message)


@pytest.mark.skipif(not _stdlib_sm3_available(), reason="system OpenSSL has no SM3")
@given(message=st.binary(max_size=300))
def test_sm3_agrees_with_system_openssl(message: bytes) -> None:
    assert sm3(message) == hashlib.new("sm3", message).digest()


def test_length_prefixed_is_not_plain_concatenation() -> None:
    assert length_prefixed(b"ab", b"c") != length_prefixed(b"a", b"bc")
    assert length_prefixed(b"", b"x") != length_prefixed(b"x", b"")
    assert length_prefixed(b"a") != length_prefixed(b"a", b"")
    assert length_prefixed(b"ab") == b"\x00\x00\x00\x02ab"


@given(
    a=st.lists(st.binary(max_size=8), max_size=4),
    b=st.lists(st.binary(max_size=8), max_size=4),
)
def test_length_prefixed_is_injective(a: list[bytes], b: list[bytes]) -> None:
    if a != b:
        assert length_prefixed(*a) != length_prefixed(*b)
