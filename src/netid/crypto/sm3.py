"""SM3 (GB/T 32905-2016) and HMAC-SM3 (RFC 2104 with SM3) through `cryptography`, whose wheel
bundles its own OpenSSL (the distro's may have SM algorithms disabled)."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes, hmac

SM3_DIGEST_SIZE = 32
SM3_BLOCK_SIZE = 64  # GB/T 32905-2016 §5.2: 512-bit message blocks (the HMAC block size)


def sm3(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def hmac_sm3(key: bytes, data: bytes) -> bytes:
    mac = hmac.HMAC(key, hashes.SM3())
    mac.update(data)
    return mac.finalize()


def length_prefixed(*parts: bytes) -> bytes:
    """Injective concatenation: each part preceded by its 4-byte big-endian length.

    Plain concatenation is not injective (("ab","c") == ("a","bc")); every keyed hash over
    several fields (blind index, pairwise pseudonym) goes through this.
    """
    return b"".join(len(p).to_bytes(4, "big") + p for p in parts)
