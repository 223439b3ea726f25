"""Errors of the crypto layer. Messages never contain key material or plaintext."""

from __future__ import annotations

from netid.core.errors import NetidError


class CryptoError(NetidError):
    code = "crypto_error"
    default_message = "A cryptographic operation failed."


class SealedValueInvalid(CryptoError):
    """The sealed value is malformed, was tampered with, or belongs to another row/column."""

    code = "sealed_value_invalid"
    default_message = "A sealed value could not be opened."


class UnknownKey(CryptoError):
    """The key id named by a sealed value or signature is not (or no longer) available."""

    code = "unknown_key"
    default_message = "The key needed to open this value is not available."


class SignatureInvalid(CryptoError):
    code = "signature_invalid"
    default_message = "The signature does not verify."


class InvalidKeyMaterial(CryptoError):
    """Key bytes are malformed, out of range or not a point on the expected curve."""

    code = "invalid_key_material"
    default_message = "The key material is not valid."


class SelfTestFailed(CryptoError):
    code = "crypto_self_test_failed"
    default_message = "A cryptographic known-answer self-test failed; refusing to start."


class NoteInvalid(CryptoError):
    """A signed note or checkpoint is malformed, or no trusted key verifies it (C2SP
    signed-note / tlog-checkpoint). Web routes that accept notes from callers map it to 400."""

    code = "note_invalid"
    default_message = "The signed note is malformed or carries no valid trusted signature."
