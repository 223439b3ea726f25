"""Signed receipts (电子回执): signing on demand and offline verification. Pure functions.

A receipt is the ``details.receipt`` object of the verification's access record plus the
record's ``log_index`` (its index in the log). It is signed on demand, not at verification time
(DESIGN.md "Receipts before and after the log": no per-request SM2 signature), over its RFC 8785
(JCS) canonical encoding with SM2-with-SM3 (GB/T 32918.2 / GM/T 0003.2 §6.1) and the user id
``1234567812345678`` (GM/T 0009-2012 default; :data:`netid.crypto.sm2.SM2_USER_ID`)::

    {"receipt": {...},
     "signature": {"alg": "SM2-SM3", "key_id": "...", "user_id": "1234567812345678",
                   "value": base64(DER SEQUENCE{r, s})}}

Verification needs only the platform's published public keys: the document that
``netid keys export-public`` prints (SM2 keys as SubjectPublicKeyInfo PEM under ``"sm2"``).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from netid.audit.service import canonical_json
from netid.billing.errors import PublicKeysInvalid, ReceiptInvalid
from netid.crypto.errors import CryptoError
from netid.crypto.merkle import TreeHasher, verify_inclusion
from netid.crypto.notes import NoteVerifier, open_checkpoint
from netid.crypto.sm2 import SM2_USER_ID, Sm2PrivateKey, Sm2PublicKey

SIGNATURE_ALG: Final = "SM2-SM3"
USER_ID: Final = SM2_USER_ID.decode("ascii")
_SIGNATURE_FIELDS: Final = frozenset({"alg", "key_id", "user_id", "value"})
_DOCUMENT_FIELDS: Final = frozenset({"receipt", "signature"})
# Optional: the receipt's log entry with its inclusion proof and the signed checkpoint it is
# proven against (DESIGN.md "Receipts before and after the log"), present once the next
# checkpoint after the entry has been cut.
_LOG_MEMBER: Final = "log"
_LOG_FIELDS: Final = frozenset({"hash", "entry", "tree_size", "inclusion", "checkpoint"})
# RFC 8785 §3.2.2.3 serialises numbers as IEEE 754 doubles; integers beyond 2**53 − 1 would
# encode differently there than in our integer-only encoder, so they are refused.
_MAX_SAFE_INTEGER: Final = 2**53 - 1
_MAX_DEPTH: Final = 8


def receipt_bytes(receipt: Mapping[str, Any]) -> bytes:
    """The signed message: JCS(receipt)."""
    _check_value(receipt, 0)
    try:
        return canonical_json(dict(receipt))
    except (TypeError, ValueError, UnicodeEncodeError):
        raise ReceiptInvalid("format") from None


def sign_receipt(receipt: Mapping[str, Any], *, key: Sm2PrivateKey, key_id: str) -> dict[str, Any]:
    signature = key.sign(receipt_bytes(receipt))
    return {
        "receipt": dict(receipt),
        "signature": {
            "alg": SIGNATURE_ALG,
            "key_id": key_id,
            "user_id": USER_ID,
            "value": base64.b64encode(signature).decode("ascii"),
        },
    }


def verify_receipt(
    document: Mapping[str, Any], public_keys: Mapping[str, Sm2PublicKey]
) -> dict[str, Any]:
    """The receipt of a signed receipt document, or :class:`ReceiptInvalid` for anything
    tampered with, signed by an unknown key, or malformed. Never another exception."""
    if not isinstance(document, Mapping) or set(document) - {_LOG_MEMBER} != _DOCUMENT_FIELDS:
        raise ReceiptInvalid("format")
    receipt = document["receipt"]
    signature = document["signature"]
    if not isinstance(receipt, dict) or not isinstance(signature, dict):
        raise ReceiptInvalid("format")
    if set(signature) != _SIGNATURE_FIELDS or not all(
        isinstance(v, str) for v in signature.values()
    ):
        raise ReceiptInvalid("format")
    if not isinstance(receipt.get("id"), str) or type(receipt.get("log_index")) is not int:
        raise ReceiptInvalid("format")
    if signature["alg"] != SIGNATURE_ALG or signature["user_id"] != USER_ID:
        raise ReceiptInvalid("algorithm")
    public = public_keys.get(signature["key_id"])
    if public is None:
        raise ReceiptInvalid("unknown_key")
    value = _strict_b64decode(signature["value"])
    message = receipt_bytes(receipt)
    try:
        public.verify(value, message)
    except CryptoError:  # SignatureInvalid: wrong signature or non-canonical DER
        raise ReceiptInvalid("signature") from None
    return dict(receipt)


def verify_receipt_in_log(
    receipt: Mapping[str, Any], log: Any, verifiers: Sequence[NoteVerifier]
) -> int:
    """Check that the receipt's entry is in the log the platform signed: the entry carries
    this receipt at its index, its leaf hash H(0x00 || entry) is included (RFC 9162 §2.1.3.2)
    in the tree whose root a checkpoint signed by a known log key states. Returns the
    checkpoint's tree size, or raises :class:`ReceiptInvalid` ("log")."""
    try:
        if not isinstance(log, Mapping) or set(log) != _LOG_FIELDS:
            raise ValueError("fields")
        entry_text, proof_b64 = log["entry"], log["inclusion"]
        if not isinstance(entry_text, str) or not isinstance(proof_b64, list):
            raise ValueError("types")
        entry_bytes = entry_text.encode("utf-8")
        entry = json.loads(entry_text)
        quoted = {k: v for k, v in receipt.items() if k != "log_index"}
        if entry.get("index") != receipt.get("log_index") or (
            entry.get("details", {}).get("receipt") != quoted
        ):
            raise ValueError("entry")
        hasher = TreeHasher(str(log["hash"]))
        checkpoint, names = open_checkpoint(str(log["checkpoint"]), verifiers)
        if not names or checkpoint.size != log["tree_size"]:
            raise ValueError("checkpoint")
        proof = [_strict_b64decode(h) for h in proof_b64]
        index = entry["index"]
        if type(index) is not int or not verify_inclusion(
            hasher, index, checkpoint.size, hasher.leaf(entry_bytes), proof, checkpoint.root
        ):
            raise ValueError("inclusion")
    except (ValueError, TypeError, AttributeError, CryptoError, ReceiptInvalid):
        raise ReceiptInvalid("log") from None
    return checkpoint.size


def published_sm2_keys(document: Any) -> dict[str, Sm2PublicKey]:
    """The SM2 keys of the platform's published key document (``netid keys export-public``:
    ``{"jwks": {...}, "sm2": [{"kid", "state", "pem"}, ...]}``), by key id. Retired and
    retiring keys are included: receipts they signed stay verifiable."""
    if not isinstance(document, Mapping) or not isinstance(document.get("sm2"), list):
        raise PublicKeysInvalid()
    keys: dict[str, Sm2PublicKey] = {}
    for entry in document["sm2"]:
        if not isinstance(entry, Mapping):
            raise PublicKeysInvalid()
        kid, pem = entry.get("kid"), entry.get("pem")
        if not isinstance(kid, str) or not isinstance(pem, str) or kid in keys:
            raise PublicKeysInvalid()
        try:
            keys[kid] = Sm2PublicKey.from_pem(pem.encode("ascii"))
        except (CryptoError, UnicodeEncodeError):
            raise PublicKeysInvalid() from None
    return keys


def _strict_b64decode(value: str) -> bytes:
    """Standard base64 with padding (RFC 4648 §4), one accepted text per signature."""
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ReceiptInvalid("encoding") from None
    if not raw or base64.b64encode(raw).decode("ascii") != value:
        raise ReceiptInvalid("encoding")
    return raw


def _check_value(value: Any, depth: int) -> None:
    """Only what our JCS encoder encodes exactly as RFC 8785 does: str, safe int, bool, None,
    lists and string-keyed objects. Floats are refused (§3.2.2.3 number formatting)."""
    if depth > _MAX_DEPTH:
        raise ReceiptInvalid("format")
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, int):
        if abs(value) > _MAX_SAFE_INTEGER:
            raise ReceiptInvalid("format")
        return
    if isinstance(value, list):
        for item in value:
            _check_value(item, depth + 1)
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ReceiptInvalid("format")
            _check_value(item, depth + 1)
        return
    raise ReceiptInvalid("format")
