"""Signed receipts, pure: known-answer vectors (valid, reordered, tampered), gmalg as an
independent SM2 oracle, and the published-key document parser."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import gmalg
import pytest
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from netid.billing.errors import InvalidMonth, PublicKeysInvalid, ReceiptInvalid
from netid.billing.receipts import (
    published_sm2_keys,
    receipt_bytes,
    sign_receipt,
    verify_receipt,
)
from netid.billing.schemas import check_month, yuan
from netid.crypto.sm2 import SM2_USER_ID, Sm2PrivateKey

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "receipts.json").read_text(encoding="utf-8")
)
KEYS = published_sm2_keys(VECTORS["public_keys"])


def test_valid_vector_verifies_and_returns_the_receipt() -> None:
    receipt = verify_receipt(VECTORS["valid"], KEYS)
    assert receipt == VECTORS["valid"]["receipt"]
    assert receipt["log_index"] == 4711 and receipt["price_fen"] == 10


def test_signed_message_is_jcs_of_the_receipt() -> None:
    assert receipt_bytes(VECTORS["valid"]["receipt"]) == VECTORS["signed_message"].encode()
    # Members in another order: the same canonical bytes, so the same signature holds.
    assert verify_receipt(VECTORS["valid_reordered"], KEYS) == VECTORS["valid"]["receipt"]


def test_gmalg_verifies_the_vector_signature() -> None:
    """An independent SM2 implementation, taking the user id explicitly, accepts it."""
    public = KEYS["vk000001"].uncompressed()
    der = base64.b64decode(VECTORS["valid"]["signature"]["value"])
    r, s = decode_dss_signature(der)
    r_bytes, s_bytes = r.to_bytes(32, "big"), s.to_bytes(32, "big")
    message = VECTORS["signed_message"].encode()
    assert gmalg.SM2(pk=public, uid=SM2_USER_ID).verify(message, r_bytes, s_bytes)
    assert not gmalg.SM2(pk=public, uid=b"other").verify(message, r_bytes, s_bytes)


def test_vector_private_key_matches_the_published_key() -> None:
    key = Sm2PrivateKey.from_private_value(bytes.fromhex(VECTORS["test_private_key_hex"]))
    assert key.public_key() == KEYS["vk000001"]


@pytest.mark.parametrize("case", VECTORS["tampered"], ids=lambda c: c["name"])
def test_tampered_vectors_are_rejected_for_the_right_reason(case: dict[str, Any]) -> None:
    with pytest.raises(ReceiptInvalid) as info:
        verify_receipt(case["document"], KEYS)
    assert info.value.reason == case["reason"]
    assert info.value.code == "receipt_invalid"
    assert info.value.details == {"reason": case["reason"]}


def test_round_trip_with_a_fresh_key_and_every_field_bound() -> None:
    key = Sm2PrivateKey.generate()
    receipt = dict(VECTORS["valid"]["receipt"])
    document = sign_receipt(receipt, key=key, key_id="k1")
    keys = {"k1": key.public_key()}
    assert verify_receipt(document, keys) == receipt
    for field, value in receipt.items():
        changed = json.loads(json.dumps(document))
        changed["receipt"][field] = value + 1 if isinstance(value, int) else value + "x"
        with pytest.raises(ReceiptInvalid):
            verify_receipt(changed, keys)
    # The right signature under another key id that holds a different key.
    with pytest.raises(ReceiptInvalid) as info:
        verify_receipt(document, {"k1": Sm2PrivateKey.generate().public_key()})
    assert info.value.reason == "signature"


@pytest.mark.parametrize(
    "document",
    [None, [], "text", {"receipt": [], "signature": {}}, {"receipt": {}, "signature": []}],
)
def test_garbage_is_a_format_error(document: Any) -> None:
    with pytest.raises(ReceiptInvalid) as info:
        verify_receipt(document, KEYS)
    assert info.value.reason == "format"


def test_lone_surrogate_and_huge_integer_are_format_errors() -> None:
    for field, value in (("purpose", "\ud800"), ("price_fen", 2**60)):
        document = json.loads(json.dumps(VECTORS["valid"]))
        document["receipt"][field] = value
        with pytest.raises(ReceiptInvalid) as info:
            verify_receipt(document, KEYS)
        assert info.value.reason == "format"


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"sm2": "x"},
        {"sm2": [{"kid": "a"}]},
        {
            "sm2": [
                {"kid": "a", "pem": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"}
            ]
        },
        {"sm2": [VECTORS["public_keys"]["sm2"][0], VECTORS["public_keys"]["sm2"][0]]},
    ],
)
def test_bad_public_key_documents_are_refused(document: Any) -> None:
    with pytest.raises(PublicKeysInvalid):
        published_sm2_keys(document)


def test_a_p256_pem_is_not_an_sm2_key() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    with pytest.raises(PublicKeysInvalid):
        published_sm2_keys({"sm2": [{"kid": "p256", "state": "active", "pem": pem}]})


@pytest.mark.parametrize(
    ("fen", "text"), [(0, "0.00"), (5, "0.05"), (10, "0.10"), (100, "1.00"), (12345, "123.45")]
)
def test_yuan(fen: int, text: str) -> None:
    assert yuan(fen) == text


@pytest.mark.parametrize(
    "month",
    [
        "2026-13",
        "2026-00",
        "2026-1",
        "26-11",
        "2026-11-01",
        "",
        "１９９９-01",
        "1969-12",
        "2026/11",
    ],
)
def test_bad_months(month: str) -> None:
    with pytest.raises(InvalidMonth) as info:
        check_month(month)
    assert info.value.code == "invalid_month"


def test_good_months() -> None:
    assert check_month("2026-11") == "2026-11"
    assert check_month("2027-01") == "2027-01"
