"""Writes tests/billing/vectors/receipts.json (run once; the file is the known answer).

``python -m tests.billing.make_vectors``. A fixed TEST-ONLY SM2 key signs one receipt; the file
holds that key's published-key document (the shape ``netid keys export-public`` prints), the
valid signed receipt, one with its members reordered (still valid: JCS), and tampered variants
with the check that must reject each. SM2 signatures are randomised, so a re-run writes a
different, equally valid file.
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

from netid.billing.receipts import sign_receipt
from netid.crypto.sm2 import Sm2PrivateKey, signature_der_to_raw
from netid.crypto.sm3 import sm3

OUT = Path(__file__).parent / "vectors" / "receipts.json"
KEY_ID = "vk000001"
RECEIPT: dict[str, Any] = {
    "id": "019ad3c0a4e87c3e9b5f0d2a6c1e4f70",
    "institution_code": "BK0000001X",
    "type": "id2",
    "purpose": "account_opening",
    "time": "2026-11-30T23:30:00+00:00",
    "result_class": "match",
    "price_fen": 10,
    "currency": "CNY",
    "request_hash": "sm3:" + sm3(b"netid receipt vector request").hex(),
    "log_index": 4711,
}


def _variant(valid: dict[str, Any], name: str, reason: str, change: Any) -> dict[str, Any]:
    document = copy.deepcopy(valid)
    change(document)
    return {"name": name, "reason": reason, "document": document}


def _set(path: tuple[str, ...], value: Any) -> Any:
    def change(document: dict[str, Any]) -> None:
        target = document
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return change


def _del(path: tuple[str, ...]) -> Any:
    def change(document: dict[str, Any]) -> None:
        target = document
        for part in path[:-1]:
            target = target[part]
        del target[path[-1]]

    return change


def main() -> None:
    d = sm3(b"netid billing receipt test vector key (TEST ONLY)")
    key = Sm2PrivateKey.from_private_value(d)
    valid = sign_receipt(RECEIPT, key=key, key_id=KEY_ID)
    der = base64.b64decode(valid["signature"]["value"])
    flipped = bytearray(der)
    flipped[20] ^= 0x01  # inside r: still canonical DER, wrong value
    raw = signature_der_to_raw(der)
    b64 = base64.b64encode

    reordered = {
        "signature": dict(reversed(list(valid["signature"].items()))),
        "receipt": dict(reversed(list(valid["receipt"].items()))),
    }
    tampered = [
        _variant(valid, "price_changed", "signature", _set(("receipt", "price_fen"), 0)),
        _variant(valid, "log_index_changed", "signature", _set(("receipt", "log_index"), 4712)),
        _variant(
            valid, "result_changed", "signature", _set(("receipt", "result_class"), "mismatch")
        ),
        _variant(valid, "field_added", "signature", _set(("receipt", "note"), "x")),
        _variant(valid, "field_removed", "signature", _del(("receipt", "purpose"))),
        _variant(
            valid,
            "signature_bit_flip",
            "signature",
            _set(("signature", "value"), b64(bytes(flipped)).decode()),
        ),
        _variant(
            valid,
            "signature_trailing_byte",
            "signature",
            _set(("signature", "value"), b64(der + b"\0").decode()),
        ),
        _variant(
            valid, "signature_raw_r_s", "signature", _set(("signature", "value"), b64(raw).decode())
        ),
        _variant(valid, "signature_not_base64", "encoding", _set(("signature", "value"), "*not*")),
        _variant(
            valid,
            "signature_with_newline",
            "encoding",
            _set(
                ("signature", "value"),
                valid["signature"]["value"][:8] + "\n" + valid["signature"]["value"][8:],
            ),
        ),
        _variant(valid, "signature_empty", "encoding", _set(("signature", "value"), "")),
        _variant(valid, "unknown_key", "unknown_key", _set(("signature", "key_id"), "vk999999")),
        _variant(valid, "wrong_alg", "algorithm", _set(("signature", "alg"), "SM2")),
        _variant(valid, "empty_user_id", "algorithm", _set(("signature", "user_id"), "")),
        _variant(valid, "extra_top_level", "format", _set(("proof",), "unsigned")),
        _variant(valid, "float_price", "format", _set(("receipt", "price_fen"), 10.0)),
        _variant(valid, "log_index_string", "format", _set(("receipt", "log_index"), "4711")),
        _variant(valid, "signature_missing", "format", _del(("signature",))),
        _variant(valid, "signature_field_missing", "format", _del(("signature", "user_id"))),
    ]
    document = {
        "comment": "Known-answer vectors for netid signed receipts (SM2-SM3 over RFC 8785 JCS, "
        "user id 1234567812345678). The key is TEST ONLY.",
        "test_private_key_hex": d.hex(),
        "public_keys": {
            "jwks": {"keys": []},
            "sm2": [{"kid": KEY_ID, "state": "active", "pem": key.public_key().to_pem().decode()}],
        },
        # JCS(receipt), written out independently of the code under test.
        "signed_message": json.dumps(
            RECEIPT, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ),
        "valid": valid,
        "valid_reordered": reordered,
        "tampered": tampered,
    }
    OUT.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
