"""The simulated document chip (netid.documents.chip): sign/read, every error code, tampering,
expiry boundaries, strict parsing, the known-answer vector (checked by gmalg too)."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import gmalg
import pytest
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from netid.core.errors import Conflict, InvalidInput
from netid.crypto.sm2 import SM2_USER_ID, Sm2PrivateKey, Sm2PublicKey
from netid.documents import DocumentType
from netid.documents.chip import (
    CHIP_FORMAT,
    DEFAULT_MAX_AGE,
    FUTURE_SKEW,
    MAX_CHIP_BYTES,
    ChipData,
    chip_signing_input,
    issuer_key_entry,
    issuer_kid,
    parse_issuer_key,
    parse_trust_file,
    read_chip,
    sign_chip,
)
from netid.documents.errors import ChipExpired, ChipMalformed, ChipSignatureInvalid, ChipStale

VECTOR = json.loads((Path(__file__).parent / "vectors" / "chip.json").read_text(encoding="utf-8"))
AT = dt.datetime(2026, 12, 2, 8, 0, 0, tzinfo=dt.UTC)
KEY = Sm2PrivateKey.generate()
KID = issuer_kid(KEY.public_key())
TRUSTED: dict[str, Sm2PublicKey] = {KID: KEY.public_key()}
DATA = ChipData(
    document_type=DocumentType.RESIDENT_ID,
    number="11010519491231002X",
    name="欧阳·娜娜",
    birth_date=dt.date(1949, 12, 31),
    sex="F",
    nationality="CHN",
    issued_on=dt.date(2015, 6, 1),
    expires_on=None,
)


def signed(data: ChipData = DATA, at: dt.datetime = AT) -> dict[str, Any]:
    return sign_chip(data, key=KEY, kid=KID, signed_at=at)


def resign(doc: dict[str, Any]) -> dict[str, Any]:
    """Sign whatever ``doc`` now holds, as a (trusted) issuer would: passes the signature check,
    so only the later checks can refuse it."""
    doc["signature"] = base64.b64encode(
        KEY.sign(chip_signing_input(doc["data"], signed_at=doc["signed_at"], kid=doc["kid"]))
    ).decode()
    return doc


# -- round trip ---------------------------------------------------------------------------------
def test_sign_then_read_round_trips_every_input_form() -> None:
    doc = signed()
    assert set(doc) == {"format", "data", "signed_at", "kid", "signature"}
    assert doc["format"] == CHIP_FORMAT and doc["kid"] == KID
    assert doc["signed_at"] == "2026-12-02T08:00:00Z"
    text = json.dumps(doc, ensure_ascii=False)
    for form in (doc, text, text.encode()):
        assert read_chip(form, trusted=TRUSTED, now=AT) == DATA


def test_signed_at_is_kept_to_the_second_in_utc() -> None:
    local = dt.datetime(2026, 12, 2, 16, 0, 0, 999_999, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert signed(at=local)["signed_at"] == "2026-12-02T08:00:00Z"
    with pytest.raises(ValueError):
        signed(at=dt.datetime(2026, 12, 2, 8))  # naive


def test_every_document_type_round_trips() -> None:
    numbers = {
        DocumentType.RESIDENT_ID: "11010519491231002X",
        DocumentType.PASSPORT: "E12345678",
        DocumentType.TRAVEL_PERMIT_HKMO: "H12345678",
    }
    for doc_type, number in numbers.items():
        data = ChipData(doc_type, number, "张伟", dt.date(1990, 1, 1), "M", "CHN", None, None)
        assert read_chip(signed(data), trusted=TRUSTED, now=AT) == data


# -- signature ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("name", "欧阳·娜"),
        ("number", "110105194912310037"),
        ("birth_date", "1949-12-30"),
        ("sex", "M"),
        ("nationality", "HKG"),
        ("issued_on", None),
        ("expires_on", "2099-01-01"),
        ("document_type", "residence_permit"),
    ],
)
def test_tampered_data_fails_the_signature(member: str, value: str | None) -> None:
    doc = signed()
    doc["data"][member] = value
    with pytest.raises(ChipSignatureInvalid) as caught:
        read_chip(doc, trusted=TRUSTED, now=AT)
    assert caught.value.code == "chip_signature_invalid"


def test_tampered_time_kid_or_signature_fails() -> None:
    later = signed()
    later["signed_at"] = "2026-12-02T08:00:01Z"
    other_key = Sm2PrivateKey.generate()
    both = {**TRUSTED, "other": other_key.public_key()}
    relabelled = signed()
    relabelled["kid"] = "other"  # a trusted kid, but not the key that signed
    flipped = signed()
    raw = bytearray(base64.b64decode(flipped["signature"]))
    raw[-1] ^= 1
    flipped["signature"] = base64.b64encode(bytes(raw)).decode()
    for doc in (later, relabelled, flipped):
        with pytest.raises(ChipSignatureInvalid):
            read_chip(doc, trusted=both, now=AT)


def test_unknown_kid_or_wrong_issuer_key() -> None:
    with pytest.raises(ChipSignatureInvalid):
        read_chip(signed(), trusted={}, now=AT)
    impostor = Sm2PrivateKey.generate()  # signs under the trusted kid with its own key
    forged = sign_chip(DATA, key=impostor, kid=KID, signed_at=AT)
    with pytest.raises(ChipSignatureInvalid):
        read_chip(forged, trusted=TRUSTED, now=AT)
    assert read_chip(forged, trusted={KID: impostor.public_key()}, now=AT) == DATA


def test_the_signature_covers_the_format() -> None:
    doc = signed()
    assert CHIP_FORMAT.encode() in chip_signing_input(
        doc["data"], signed_at=AT.isoformat(), kid=KID
    )


# -- expiry (fixed clock, both edges) ----------------------------------------------------------
def test_expiry_boundaries() -> None:
    doc = signed()
    assert read_chip(doc, trusted=TRUSTED, now=AT + DEFAULT_MAX_AGE) == DATA  # exactly 10 min
    with pytest.raises(ChipExpired) as caught:
        read_chip(doc, trusted=TRUSTED, now=AT + DEFAULT_MAX_AGE + dt.timedelta(seconds=1))
    assert caught.value.code == "chip_expired"
    assert read_chip(doc, trusted=TRUSTED, now=AT - FUTURE_SKEW) == DATA  # 30 s ahead: skew
    with pytest.raises(ChipExpired):
        read_chip(doc, trusted=TRUSTED, now=AT - FUTURE_SKEW - dt.timedelta(seconds=1))
    short = dt.timedelta(minutes=1)
    with pytest.raises(ChipExpired):
        read_chip(doc, trusted=TRUSTED, now=AT + dt.timedelta(seconds=61), max_age=short)


def test_the_signature_is_checked_before_the_age() -> None:
    # A forged old chip says "forged", not "too old": no hint that the data was right.
    with pytest.raises(ChipSignatureInvalid):
        read_chip(signed(), trusted={}, now=AT + dt.timedelta(days=1))


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        read_chip(signed(), trusted=TRUSTED, now=dt.datetime(2026, 12, 2, 8))


# -- strict parsing --------------------------------------------------------------------------------
def _text_variants() -> list[tuple[str, bytes]]:
    good = json.dumps(signed(), ensure_ascii=False)
    member = '"format": "netid-chip/1"'
    assert member in good
    return [
        ("not json", b"{"),
        ("array", b"[]"),
        ("duplicate member", good.replace(member, f"{member}, {member}").encode()),
        ("NaN", good.replace(member, f'{member}, "x": NaN').encode()),
        ("invalid utf-8", good.encode().replace("欧".encode(), b"\xff\xfe")),
        ("utf-8 surrogate", good.encode().replace("欧".encode(), b"\xed\xa0\x80")),
        ("escaped lone surrogate", good.replace("欧", "\\ud800").encode()),
        ("too large", good.encode() + b" " * MAX_CHIP_BYTES),
        ("deep nesting", b"[" * 2000 + b"]" * 2000),  # under the size cap
    ]


@pytest.mark.parametrize(("why", "raw"), _text_variants(), ids=lambda v: str(v)[:20])
def test_malformed_text(why: str, raw: bytes) -> None:
    with pytest.raises(ChipMalformed) as caught:
        read_chip(raw, trusted=TRUSTED, now=AT)
    assert caught.value.code == "chip_malformed"
    assert "欧" not in caught.value.message + json.dumps(caught.value.details)


def test_a_str_with_a_lone_surrogate_is_malformed() -> None:
    text = json.dumps(signed(), ensure_ascii=False).replace("欧", "\ud800")
    with pytest.raises(ChipMalformed):
        read_chip(text, trusted=TRUSTED, now=AT)


def _mutations() -> list[tuple[str, Any]]:
    def extra_top(d: dict[str, Any]) -> None:
        d["x5c"] = "…"

    def missing_top(d: dict[str, Any]) -> None:
        del d["kid"]

    def extra_data(d: dict[str, Any]) -> None:
        d["data"]["photo"] = "…"

    def missing_data(d: dict[str, Any]) -> None:
        del d["data"]["sex"]

    def number_as_int(d: dict[str, Any]) -> None:
        d["data"]["birth_date"] = 19491231

    def name_as_list(d: dict[str, Any]) -> None:
        d["data"]["name"] = ["欧阳", "娜娜"]

    def data_as_list(d: dict[str, Any]) -> None:
        d["data"] = list(d["data"].items())

    def null_name(d: dict[str, Any]) -> None:
        d["data"]["name"] = None

    def long_name(d: dict[str, Any]) -> None:
        d["data"]["name"] = "娜" * 300

    def other_format(d: dict[str, Any]) -> None:
        d["format"] = "netid-chip/2"

    def bad_kid(d: dict[str, Any]) -> None:
        d["kid"] = "a b"

    def bad_time(d: dict[str, Any]) -> None:
        d["signed_at"] = "2026-12-02T08:00:00+00:00"

    def impossible_time(d: dict[str, Any]) -> None:
        d["signed_at"] = "2026-02-30T08:00:00Z"

    def url_safe_signature(d: dict[str, Any]) -> None:
        d["signature"] = d["signature"].replace("+", "-").replace("/", "_") + "-_"

    def non_canonical_signature(d: dict[str, Any]) -> None:
        # Same bytes, other text: set an unused low bit of the last character before the
        # padding (RFC 4648 §3.5). Without padding there are no spare bits: pad wrongly.
        sig: str = d["signature"]
        body = sig.rstrip("=")
        if body == sig:
            d["signature"] = sig + "="
            return
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        last = alphabet[alphabet.index(body[-1]) ^ 1]
        d["signature"] = body[:-1] + last + sig[len(body) :]
        assert base64.b64decode(d["signature"]) == base64.b64decode(sig)

    def signature_as_bytes(d: dict[str, Any]) -> None:
        d["signature"] = base64.b64decode(d["signature"])

    def bool_sex(d: dict[str, Any]) -> None:
        d["data"]["sex"] = True

    return [
        (f.__name__, f)
        for f in (
            extra_top,
            missing_top,
            extra_data,
            missing_data,
            number_as_int,
            name_as_list,
            data_as_list,
            null_name,
            long_name,
            other_format,
            bad_kid,
            bad_time,
            impossible_time,
            url_safe_signature,
            non_canonical_signature,
            signature_as_bytes,
            bool_sex,
        )
    ]


@pytest.mark.parametrize(("why", "mutate"), _mutations(), ids=lambda v: str(v)[:20])
def test_malformed_structure(why: str, mutate: Any) -> None:
    doc = signed()
    mutate(doc)
    with pytest.raises(ChipMalformed):
        read_chip(doc, trusted=TRUSTED, now=AT)


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("document_type", "identity_card"),
        ("number", "11010519491231002x"),  # not the normalised form the issuer writes
        ("number", "110105194912310021"),  # check digit
        ("number", "E12345678"),  # a passport number on a resident ID
        ("name", " "),
        ("birth_date", "1949-13-01"),
        ("birth_date", "19491231"),
        ("sex", "X"),
        ("nationality", "cn"),
        ("issued_on", "2015-6-1"),
    ],
)
def test_authentic_but_meaningless_data_is_malformed(member: str, value: str) -> None:
    doc = signed()
    doc["data"][member] = value
    with pytest.raises(ChipMalformed):
        read_chip(resign(doc), trusted=TRUSTED, now=AT)


def test_error_classes_and_codes() -> None:
    codes = {e.code for e in (ChipMalformed, ChipSignatureInvalid, ChipExpired, ChipStale)}
    assert codes == {"chip_malformed", "chip_signature_invalid", "chip_expired", "chip_stale"}
    assert all(issubclass(e, InvalidInput) for e in (ChipMalformed, ChipSignatureInvalid))
    assert issubclass(ChipExpired, InvalidInput) and issubclass(ChipStale, Conflict)


def test_the_input_is_not_changed() -> None:
    doc = signed()
    before = copy.deepcopy(doc)
    read_chip(doc, trusted=TRUSTED, now=AT)
    assert doc == before


# -- known answer -----------------------------------------------------------------------------------
def test_vector_signing_input_and_signature() -> None:
    key = Sm2PrivateKey.from_private_value(bytes.fromhex(VECTOR["private_key"]))
    assert key.public_key().uncompressed().hex() == VECTOR["public_key"]
    assert issuer_kid(key.public_key()) == VECTOR["kid"]
    doc = VECTOR["document"]
    signing_input = chip_signing_input(doc["data"], signed_at=doc["signed_at"], kid=doc["kid"])
    assert signing_input == VECTOR["signing_input"].encode()
    chip = read_chip(doc, trusted={VECTOR["kid"]: key.public_key()}, now=AT)
    assert chip.name == "欧阳·娜娜" and chip.expires_on == dt.date(2035, 6, 1)
    # Our signer reproduces the signing input exactly (the signature itself is randomised).
    again = sign_chip(chip, key=key, kid=VECTOR["kid"], signed_at=AT)
    assert again["data"] == doc["data"] and again["signature"] != doc["signature"]


def test_vector_signature_verifies_in_gmalg() -> None:
    """Independent check: gmalg (pure Python) with the GM/T 0009 user id given explicitly."""
    doc = VECTOR["document"]
    r, s = decode_dss_signature(base64.b64decode(doc["signature"]))
    oracle = gmalg.SM2(pk=bytes.fromhex(VECTOR["public_key"]), uid=SM2_USER_ID)
    message = VECTOR["signing_input"].encode()
    assert oracle.verify(message, r.to_bytes(32, "big"), s.to_bytes(32, "big"))
    tampered = message.replace(b'"sex":"F"', b'"sex":"M"')
    assert tampered != message
    assert not oracle.verify(tampered, r.to_bytes(32, "big"), s.to_bytes(32, "big"))


# -- the trust file format --------------------------------------------------------------------------
def test_trust_file_round_trip_and_refusals() -> None:
    entry = issuer_key_entry(KID, KEY.public_key(), AT)
    keys = parse_trust_file(json.dumps({"keys": [entry]}))
    assert [(k.kid, k.public_key) for k in keys] == [(KID, KEY.public_key())]
    assert parse_trust_file('{"keys": []}') == []
    exported = {"kid": KID, "public_key": entry["public_key"]}
    assert parse_issuer_key(exported, with_added_at=False).public_key == KEY.public_key()
    off_curve = "04" + "00" * 64
    for text in (
        "",
        "[]",
        '{"keys": {}}',
        '{"keys": [], "more": 1}',
        json.dumps({"keys": [entry, entry]}),  # a kid twice
        json.dumps({"keys": [{**entry, "public_key": off_curve}]}),
        json.dumps({"keys": [{**entry, "public_key": entry["public_key"].upper()}]}),
        json.dumps({"keys": [{**entry, "kid": ""}]}),
        json.dumps({"keys": [{k: v for k, v in entry.items() if k != "added_at"}]}),
        '{"keys": [], "keys": []}',
    ):
        with pytest.raises(ValueError):
            parse_trust_file(text)


def test_signed_at_in_non_ascii_digits_is_malformed_even_when_signed() -> None:
    """``strptime`` reads full-width digits as digits; the format is ASCII only (one text per
    instant), so even an authentic signature does not make such a stamp acceptable."""
    doc = signed()
    doc["signed_at"] = "２０２６-12-02T08:00:00Z"
    with pytest.raises(ChipMalformed) as caught:
        read_chip(resign(doc), trusted=TRUSTED, now=AT)
    assert caught.value.details == {"rule": "signed_at"}
