"""SM4 (GB/T 32907-2016) and SM4-GCM (RFC 8998) known answers and tamper checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from netid.crypto.errors import SealedValueInvalid
from netid.crypto.sm4 import sm4_encrypt_block, sm4_gcm_decrypt, sm4_gcm_encrypt

_DIR = Path(__file__).parent / "vectors"
SM4_VECTORS = json.loads((_DIR / "sm4_gbt32907.json").read_text())["vectors"]
GCM = json.loads((_DIR / "sm4_gcm_rfc8998.json").read_text())["vectors"][0]


def _h(name: str, vector: dict[str, Any]) -> bytes:
    return bytes.fromhex(vector[name])


@pytest.mark.parametrize("vector", SM4_VECTORS, ids=lambda v: v["name"])
def test_sm4_known_answers(vector: dict[str, Any]) -> None:
    key, block = _h("key", vector), _h("plaintext", vector)
    if vector["iterations"] == 1:
        assert sm4_encrypt_block(key, block) == _h("ciphertext", vector)
        return
    # A.2 iterates a million times; use one ECB context (same primitive) to keep it ~0.3 s.
    update = Cipher(algorithms.SM4(key), modes.ECB()).encryptor().update
    assert sm4_encrypt_block(key, block) == update(block)
    for _ in range(vector["iterations"]):
        block = update(block)
    assert block == _h("ciphertext", vector)


def test_sm4_gcm_rfc8998_a1() -> None:
    key, iv, aad = _h("key", GCM), _h("iv", GCM), _h("aad", GCM)
    plaintext, expected = _h("plaintext", GCM), _h("ciphertext", GCM) + _h("tag", GCM)
    assert sm4_gcm_encrypt(key, iv, plaintext, aad) == expected
    assert sm4_gcm_decrypt(key, iv, expected, aad) == plaintext


def test_sm4_gcm_rejects_every_bit_flip_and_other_aad() -> None:
    key, iv, aad = _h("key", GCM), _h("iv", GCM), _h("aad", GCM)
    sealed = _h("ciphertext", GCM) + _h("tag", GCM)
    for bit in range(len(sealed) * 8):
        damaged = bytearray(sealed)
        damaged[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(SealedValueInvalid):
            sm4_gcm_decrypt(key, iv, bytes(damaged), aad)
    for other_aad in (b"", aad + b"\x00", aad[:-1]):
        with pytest.raises(SealedValueInvalid):
            sm4_gcm_decrypt(key, iv, sealed, other_aad)
    with pytest.raises(SealedValueInvalid):
        sm4_gcm_decrypt(key, iv, sealed[:15], aad)


def test_sm4_gcm_empty_plaintext_is_just_a_tag() -> None:
    key, iv = bytes(16), bytes(12)
    sealed = sm4_gcm_encrypt(key, iv, b"", b"aad")
    assert len(sealed) == 16
    assert sm4_gcm_decrypt(key, iv, sealed, b"aad") == b""


@pytest.mark.parametrize(
    ("key_len", "nonce_len"), [(15, 12), (17, 12), (32, 12), (16, 8), (16, 16)]
)
def test_sm4_gcm_rejects_bad_parameters(key_len: int, nonce_len: int) -> None:
    with pytest.raises(ValueError):
        sm4_gcm_encrypt(bytes(key_len), bytes(nonce_len), b"x", b"")
    with pytest.raises(ValueError):
        sm4_gcm_decrypt(bytes(key_len), bytes(nonce_len), bytes(17), b"")


def test_sm4_block_rejects_bad_sizes() -> None:
    with pytest.raises(ValueError):
        sm4_encrypt_block(bytes(16), bytes(15))
    with pytest.raises(ValueError):
        sm4_encrypt_block(bytes(8), bytes(16))
