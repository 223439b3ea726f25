"""SM2 digital signatures with SM3 (GB/T 32918.2-2016 / GM/T 0003.2-2012) via tongsuopy.

Library choice: tongsuopy (Tongsuo, an OpenSSL fork, through cffi) — about 3,500 signatures/s
here. **Never gmssl**: it draws the nonce k from Mersenne Twister (``random.choice``), which leaks
the private key, and mangles public keys with ``lstrip("04")`` (standards.md §2.3). gmalg (pure
Python, ~70 signatures/s) is the test oracle only.

Signing computes, per GM/T 0003.2 §5.5 and §6.1::

    ZA = SM3(ENTL_A ‖ ID_A ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA)      (ENTL_A = bit length of ID_A, 2 bytes)
    e  = SM3(ZA ‖ M)
    (x1, ·) = [k]G;  r = (e + x1) mod n;  s = (1 + d)^-1 · (k − r·d) mod n

Verification (§7.1) rejects unless 1 ≤ r, s ≤ n − 1 and t = (r + s) mod n ≠ 0, then checks
r == (e + x1') mod n with (x1', ·) = [s]G + [t]PA.

Wire format of a signature: DER ``SEQUENCE { r INTEGER, s INTEGER }``, the SM2Signature type of
GM/T 0009-2012 (SM2 usage specification), as Tongsuo/OpenSSL, GmSSL and X.509/CMS use.
Verification accepts only the canonical DER encoding (no BER length forms, no padding, no
trailing bytes), so one (r, s) has exactly one accepted byte string. Peers that speak raw
``r ‖ s`` (64 bytes, common in JS/mobile libraries) go through :func:`signature_raw_to_der` /
:func:`signature_der_to_raw`.
"""

from __future__ import annotations

from typing import Final

import tongsuopy.backends.tongsuo  # noqa: F401  load the native backend now, not on first use
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from tongsuopy.crypto import hashes as _ts_hashes
from tongsuopy.crypto import serialization as _ts_serialization
from tongsuopy.crypto.asymciphers import ec as _ts_ec

from netid.crypto.errors import InvalidKeyMaterial, SignatureInvalid
from netid.crypto.sm3 import sm3

# The distinguishing identifier ID_A that enters ZA (GM/T 0003.2 §5.5). tongsuopy has no
# parameter for it: Tongsuo always signs and verifies with the GM/T 0009-2012 default ID
# "1234567812345678" (16 ASCII bytes, ENTL = 0x0080). We rely on that fact and *prove* it in the
# tests and the start-up self-test: the GM/T 0003 Annex A signature (made with this ID) verifies,
# and signatures cross-verify with gmalg, which takes the ID explicitly. Careful: OpenSSL before
# 4.0 defaults to an *empty* ID (its signatures fail here unless ``distid`` was set), which is
# why the ID is a named constant and never implied. (A 2023 revision of GM/T 0009 is reported
# to recommend an empty ID instead — unverified; our wire format pins the 2012 default.)
SM2_USER_ID: Final = b"1234567812345678"

# Curve sm2p256v1 (the recommended parameters of GM/T 0003.5-2012 / GB/T 32918.5-2017).
SM2_P: Final = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
SM2_A: Final = SM2_P - 3
SM2_B: Final = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
SM2_N: Final = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
SM2_GX: Final = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
SM2_GY: Final = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0

FIELD_LENGTH: Final = 32
UNCOMPRESSED_POINT_LENGTH: Final = 1 + 2 * FIELD_LENGTH
RAW_SIGNATURE_LENGTH: Final = 2 * FIELD_LENGTH
_MAX_ID_LENGTH: Final = 8191  # ENTL is a 16-bit count of *bits* (GM/T 0003.2 §5.5)

_SIG_ALG: Final = _ts_ec.ECDSA(_ts_hashes.SM3())  # on an SM2 key Tongsuo runs SM2-with-SM3 + ZA


def _i2b(value: int) -> bytes:
    return value.to_bytes(FIELD_LENGTH, "big")


def _on_curve(x: int, y: int) -> bool:
    return (
        0 <= x < SM2_P and 0 <= y < SM2_P and (y * y - (x * x * x + SM2_A * x + SM2_B)) % SM2_P == 0
    )


def _parse_uncompressed(point: bytes) -> tuple[int, int]:
    """Decode ``0x04 ‖ X ‖ Y`` and check the point is on sm2p256v1 (cofactor 1, so on-curve and
    not the point at infinity is full public-key validation, SEC 1 v2 §3.2.2.1)."""
    if not isinstance(point, bytes) or len(point) != UNCOMPRESSED_POINT_LENGTH or point[0] != 0x04:
        raise InvalidKeyMaterial("An SM2 public key is 65 bytes: 0x04 ‖ X ‖ Y.")
    x = int.from_bytes(point[1 : 1 + FIELD_LENGTH], "big")
    y = int.from_bytes(point[1 + FIELD_LENGTH :], "big")
    if not _on_curve(x, y):
        raise InvalidKeyMaterial("The SM2 public key is not a point on sm2p256v1.")
    return x, y


def sm2_za(public_uncompressed: bytes, user_id: bytes = SM2_USER_ID) -> bytes:
    """ZA = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA) (GM/T 0003.2 §5.5), in pure Python."""
    if len(user_id) > _MAX_ID_LENGTH:
        raise ValueError("the SM2 user id is at most 8191 bytes")
    x, y = _parse_uncompressed(public_uncompressed)
    entl = (8 * len(user_id)).to_bytes(2, "big")
    return sm3(
        entl + user_id + _i2b(SM2_A) + _i2b(SM2_B) + _i2b(SM2_GX) + _i2b(SM2_GY) + _i2b(x) + _i2b(y)
    )


def sm2_message_digest(
    public_uncompressed: bytes, message: bytes, user_id: bytes = SM2_USER_ID
) -> bytes:
    """e = SM3(ZA ‖ M) (GM/T 0003.2 §6.1 steps A1–A2), the value that is actually signed."""
    return sm3(sm2_za(public_uncompressed, user_id) + message)


def _decode_signature(signature: bytes) -> tuple[int, int]:
    """Strict DER ``SEQUENCE{r, s}`` with both in [1, n−1], else :class:`SignatureInvalid`."""
    if not isinstance(signature, bytes):
        raise SignatureInvalid()
    try:
        r, s = decode_dss_signature(signature)
    except ValueError:
        raise SignatureInvalid() from None
    if not (1 <= r < SM2_N and 1 <= s < SM2_N):  # GM/T 0003.2 §7.1 B1, B2
        raise SignatureInvalid()
    if encode_dss_signature(r, s) != signature:  # canonical DER only
        raise SignatureInvalid()
    return r, s


def signature_der_to_raw(signature: bytes) -> bytes:
    """DER ``SEQUENCE{r, s}`` → 64-byte ``r ‖ s`` (raises :class:`SignatureInvalid`)."""
    r, s = _decode_signature(signature)
    return _i2b(r) + _i2b(s)


def signature_raw_to_der(raw: bytes) -> bytes:
    """64-byte ``r ‖ s`` → DER ``SEQUENCE{r, s}`` (raises :class:`SignatureInvalid`)."""
    if not isinstance(raw, bytes) or len(raw) != RAW_SIGNATURE_LENGTH:
        raise SignatureInvalid()
    r = int.from_bytes(raw[:FIELD_LENGTH], "big")
    s = int.from_bytes(raw[FIELD_LENGTH:], "big")
    if not (1 <= r < SM2_N and 1 <= s < SM2_N):
        raise SignatureInvalid()
    return encode_dss_signature(r, s)


class Sm2PublicKey:
    """An SM2 public key on sm2p256v1. Equality and hashing follow the point."""

    __slots__ = ("_key", "_point")

    def __init__(self, key: _ts_ec.EllipticCurvePublicKey, point: bytes) -> None:
        # Private: use from_uncompressed / from_pem / Sm2PrivateKey.public_key().
        self._key = key
        self._point = point

    @classmethod
    def from_uncompressed(cls, point: bytes) -> Sm2PublicKey:
        """Load ``0x04 ‖ X ‖ Y``; off-curve or malformed points raise InvalidKeyMaterial."""
        _parse_uncompressed(point)
        try:
            key = _ts_ec.EllipticCurvePublicKey.from_encoded_point(_ts_ec.SM2(), point)
        except Exception:  # tongsuopy raises ValueError or InternalError
            raise InvalidKeyMaterial("The SM2 public key is not valid.") from None
        return cls(key, point)

    @classmethod
    def from_pem(cls, pem: bytes) -> Sm2PublicKey:
        """Load a PEM SubjectPublicKeyInfo holding an SM2 key."""
        try:
            key = _ts_serialization.load_pem_public_key(pem)
            if not isinstance(key, _ts_ec.EllipticCurvePublicKey) or not isinstance(
                key.curve, _ts_ec.SM2
            ):
                raise InvalidKeyMaterial("The PEM does not hold an SM2 public key.")
            point = key.public_bytes(
                _ts_serialization.Encoding.X962, _ts_serialization.PublicFormat.UncompressedPoint
            )
        except InvalidKeyMaterial:
            raise
        except Exception:
            raise InvalidKeyMaterial("The PEM does not hold an SM2 public key.") from None
        return cls.from_uncompressed(bytes(point))

    def uncompressed(self) -> bytes:
        """``0x04 ‖ X ‖ Y`` (65 bytes, uncompressed form of SEC 1 v2 §2.3.3)."""
        return self._point

    def to_pem(self) -> bytes:
        """PEM SubjectPublicKeyInfo (id-ecPublicKey with the sm2p256v1 named curve)."""
        return bytes(
            self._key.public_bytes(
                _ts_serialization.Encoding.PEM,
                _ts_serialization.PublicFormat.SubjectPublicKeyInfo,
            )
        )

    def fingerprint(self) -> str:
        """Lower-case hex SM3 of the 65-byte uncompressed point; stable across encodings."""
        return sm3(self._point).hex()

    def verify(self, signature: bytes, message: bytes) -> None:
        """Verify a DER signature over ``message`` with ID :data:`SM2_USER_ID`.

        Raises :class:`SignatureInvalid` for a wrong signature and for anything malformed
        (garbage, non-canonical DER, r or s outside [1, n−1]); never another exception.
        """
        _decode_signature(signature)
        try:
            self._key.verify(signature, message, _SIG_ALG)
        except Exception:  # InvalidSignature, or InternalError on inputs Tongsuo rejects
            raise SignatureInvalid() from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sm2PublicKey) and other._point == self._point

    def __hash__(self) -> int:
        return hash(self._point)

    def __repr__(self) -> str:
        return f"Sm2PublicKey(fingerprint={self.fingerprint()[:16]}…)"


class Sm2PrivateKey:
    """An SM2 private key. ``repr`` never shows the secret; export is explicit."""

    __slots__ = ("_key", "_public")

    def __init__(self, key: _ts_ec.EllipticCurvePrivateKey) -> None:
        # Private: use generate() or from_private_value().
        self._key = key
        point = key.public_key().public_bytes(
            _ts_serialization.Encoding.X962, _ts_serialization.PublicFormat.UncompressedPoint
        )
        self._public = Sm2PublicKey(key.public_key(), bytes(point))

    @classmethod
    def generate(cls) -> Sm2PrivateKey:
        """A fresh key from Tongsuo's CSPRNG, d ∈ [1, n−2] (GM/T 0003.2 §6.1 needs 1+d ≠ 0)."""
        while True:
            key = _ts_ec.generate_private_key(_ts_ec.SM2())
            d = key.private_numbers().private_value
            if 1 <= d <= SM2_N - 2:  # n−1 has probability 2**-256; checked anyway
                return cls(key)

    @classmethod
    def from_private_value(cls, d: bytes) -> Sm2PrivateKey:
        """Load the 32-byte big-endian private scalar d (as returned by private_value())."""
        if not isinstance(d, bytes) or len(d) != FIELD_LENGTH:
            raise InvalidKeyMaterial("An SM2 private key is 32 bytes.")
        value = int.from_bytes(d, "big")
        if not 1 <= value <= SM2_N - 2:
            raise InvalidKeyMaterial("The SM2 private key is out of range.")
        try:
            key = _ts_ec.derive_private_key(value, _ts_ec.SM2())
        except Exception:
            raise InvalidKeyMaterial("The SM2 private key is not valid.") from None
        return cls(key)

    def private_value(self) -> bytes:
        """SECRET: the 32-byte big-endian scalar d, for wrapping at rest. Never log it."""
        return _i2b(self._key.private_numbers().private_value)

    def public_key(self) -> Sm2PublicKey:
        return self._public

    def sign(self, message: bytes) -> bytes:
        """Sign ``message`` (GM/T 0003.2 §6.1, ID :data:`SM2_USER_ID`); DER ``SEQUENCE{r, s}``.

        k comes from Tongsuo's CSPRNG; every call gives a different signature.
        """
        return bytes(self._key.sign(message, _SIG_ALG))

    def __repr__(self) -> str:
        return f"Sm2PrivateKey(public={self._public!r})"

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("Sm2PrivateKey cannot be pickled; wrap private_value() instead")
