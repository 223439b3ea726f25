"""SM4 (GB/T 32907-2016) and SM4-GCM through `cryptography`.

SM4-GCM is the AEAD_SM4_GCM construction of RFC 8998: NIST SP 800-38D GCM with SM4 as the
128-bit block cipher, a 12-octet nonce and a 16-octet tag. Both are checked against published
known answers at start-up (:mod:`netid.crypto.selftest`: GB/T 32907 Annex A, RFC 8998 A.1).

OpenSSL documents its SM4 as possibly using secret-dependent table lookups (not guaranteed
constant time); that is accepted for at-rest field sealing, where the attacker does not time
our encryptions.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from netid.crypto.errors import SealedValueInvalid

SM4_KEY_LENGTH = 16
SM4_BLOCK_LENGTH = 16
GCM_NONCE_LENGTH = 12  # 96-bit IV: SP 800-38D §8.2.2 (random construction); RFC 8998 N_MAX
GCM_TAG_LENGTH = 16  # full 128-bit tag, no truncation


def _check_key(key: bytes) -> None:
    if len(key) != SM4_KEY_LENGTH:
        raise ValueError("an SM4 key is 16 bytes")


def sm4_encrypt_block(key: bytes, block: bytes) -> bytes:
    """Encrypt exactly one 16-byte block (raw SM4, GB/T 32907 §7.1).

    For known-answer tests only; never use ECB for data.
    """
    _check_key(key)
    if len(block) != SM4_BLOCK_LENGTH:
        raise ValueError("an SM4 block is 16 bytes")
    encryptor = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()  # noqa: S305 (KAT only)
    return encryptor.update(block) + encryptor.finalize()


def sm4_gcm_encrypt(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """SM4-GCM encryption; returns ``ciphertext ‖ tag(16)``.

    The caller must never reuse a (key, nonce) pair: GCM loses both confidentiality and
    integrity on reuse (SP 800-38D §8).
    """
    _check_key(key)
    if len(nonce) != GCM_NONCE_LENGTH:
        raise ValueError("the SM4-GCM nonce is 12 bytes")
    encryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(aad)
    ciphertext = encryptor.update(plaintext) + encryptor.finalize()
    return ciphertext + encryptor.tag


def sm4_gcm_decrypt(key: bytes, nonce: bytes, ciphertext_and_tag: bytes, aad: bytes) -> bytes:
    """Inverse of :func:`sm4_gcm_encrypt`; raises :class:`SealedValueInvalid` unless the tag
    authenticates (nothing of the plaintext is released before that)."""
    _check_key(key)
    if len(nonce) != GCM_NONCE_LENGTH:
        raise ValueError("the SM4-GCM nonce is 12 bytes")
    if len(ciphertext_and_tag) < GCM_TAG_LENGTH:
        raise SealedValueInvalid()
    ciphertext = ciphertext_and_tag[:-GCM_TAG_LENGTH]
    tag = ciphertext_and_tag[-GCM_TAG_LENGTH:]
    decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
    decryptor.authenticate_additional_data(aad)
    try:
        return decryptor.update(ciphertext) + decryptor.finalize()
    except InvalidTag:
        raise SealedValueInvalid() from None
