"""The simulated document chip: ICAO 9303 passive authentication, our way (pure; no I/O).

A real eMRTD chip holds the holder's data groups and a Document Security Object signed by the
issuing State's Document Signer (ICAO Doc 9303 Part 11 §5.1 "Passive Authentication"); the
reader checks that signature against the State's trusted key and so learns that the data came
from the issuer unaltered. Here the "chip" is a JSON object signed by the issuing authority's
SM2 key (DESIGN.md "Keys": that key belongs to the authority, never to the platform, which
holds only the public key)::

    {"format": "netid-chip/1",
     "data": {"document_type", "number", "name", "birth_date", "sex", "nationality",
              "issued_on", "expires_on"},
     "signed_at": "2026-12-02T08:00:00Z", "kid": "…", "signature": "<base64 DER>"}

The signature is SM2 with SM3 (GM/T 0003.2, user id :data:`netid.crypto.sm2.SM2_USER_ID`)
over the JCS (RFC 8785) encoding of ``{"data", "format", "kid", "signed_at"}`` — everything but
the signature, so neither the key id nor the format version can be swapped.

A chip is a one-time reading, not a credential: it is refused once ``signed_at`` is older than
``max_age`` (10 minutes, docs/decisions/0005), so a copied file stops working quickly.
Whether the data still matches the registry (``chip_stale``) is the caller's check.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, NoReturn

from netid.core.clock import CHINA_TZ
from netid.core.text import InvalidName, validate_name
from netid.crypto.errors import InvalidKeyMaterial, SignatureInvalid
from netid.crypto.sm2 import Sm2PrivateKey, Sm2PublicKey
from netid.documents.errors import ChipExpired, ChipMalformed, ChipSignatureInvalid
from netid.documents.model import DocumentType, Sex
from netid.documents.validate import check_document_number

__all__ = [
    "CHIP_FORMAT",
    "DEFAULT_MAX_AGE",
    "FUTURE_SKEW",
    "MAX_CHIP_BYTES",
    "ChipData",
    "TrustedIssuerKey",
    "chip_signing_input",
    "issuer_key_entry",
    "issuer_kid",
    "parse_issuer_key",
    "parse_trust_file",
    "read_chip",
    "sign_chip",
]

CHIP_FORMAT: Final = "netid-chip/1"
DEFAULT_MAX_AGE: Final = dt.timedelta(minutes=10)
# A reader's clock may lag the issuer's a little; more than this in the future is refused.
FUTURE_SKEW: Final = dt.timedelta(seconds=30)
# A real chip document is about 600 bytes; the cap bounds the parser's work on hostile input.
MAX_CHIP_BYTES: Final = 4096
_MAX_STRING: Final = 256  # code points, any member (names are capped lower by validate_name)
_MAX_SIGNATURE_B64: Final = 128  # a DER SM2 signature is at most 72 bytes = 96 characters

_TOP_MEMBERS: Final = frozenset({"format", "data", "signed_at", "kid", "signature"})
_DATA_MEMBERS: Final = frozenset(
    {
        "document_type",
        "number",
        "name",
        "birth_date",
        "sex",
        "nationality",
        "issued_on",
        "expires_on",
    }
)
_OPTIONAL_DATES: Final = frozenset({"issued_on", "expires_on"})  # null = not printed (长期)
# ASCII digits only: \d would also take full-width digits, which strptime then reads.
_SIGNED_AT_RE: Final = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\Z")
_DATE_RE: Final = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_KID_RE: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
_ALPHA3_RE: Final = re.compile(r"^[A-Z]{3}\Z")
_B64_RE: Final = re.compile(r"^[A-Za-z0-9+/]+={0,2}\Z")
_TYPES_BY_VALUE: Final = {t.value: t for t in DocumentType}


@dataclass(frozen=True, slots=True)
class ChipData:
    """What the chip says about its holder (the issuer's data, not the registry's)."""

    document_type: DocumentType
    number: str  # normalised (as netid.documents normalises it)
    name: str
    birth_date: dt.date
    sex: Sex
    nationality: str  # ISO 3166-1 alpha-3
    issued_on: dt.date | None
    expires_on: dt.date | None  # None: valid without limit (长期)

    def to_json(self) -> dict[str, str | None]:
        """The ``data`` member of the chip document."""
        return {
            "document_type": self.document_type.value,
            "number": self.number,
            "name": self.name,
            "birth_date": self.birth_date.isoformat(),
            "sex": self.sex,
            "nationality": self.nationality,
            "issued_on": self.issued_on.isoformat() if self.issued_on else None,
            "expires_on": self.expires_on.isoformat() if self.expires_on else None,
        }


def _canonical_json(value: Mapping[str, Any]) -> bytes:
    """RFC 8785 (JCS) for what a chip holds (objects, strings, null): keys sorted (ASCII, so
    code-point order equals the UTF-16 order of §3.2.3), no whitespace, UTF-8, minimal string
    escapes (§3.2.2.2 — Python escapes exactly ``"``, ``\\`` and U+0000..U+001F, in lower-case
    hex). The same encoding as netid.audit's, written here because documents sit below audit."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chip_signing_input(data: Mapping[str, Any], *, signed_at: str, kid: str) -> bytes:
    """The bytes the issuer signs: JCS of everything in the document but the signature."""
    return _canonical_json(
        {"data": data, "format": CHIP_FORMAT, "kid": kid, "signed_at": signed_at}
    )


def issuer_kid(public_key: Sm2PublicKey) -> str:
    """A key id for an issuer key: 16 hex digits of its SM3 fingerprint (64 bits, stable)."""
    return public_key.fingerprint()[:16]


def _format_instant(at: dt.datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("signed_at must be timezone-aware")
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sign_chip(
    data: ChipData, *, key: Sm2PrivateKey, kid: str, signed_at: dt.datetime
) -> dict[str, str | dict[str, str | None]]:
    """The chip document for ``data``, signed by the issuing authority's ``key``.

    ``signed_at`` is kept to the second (UTC, ``Z``). The result is JSON-ready."""
    if not _KID_RE.match(kid):
        raise ValueError("a chip kid is 1-64 characters of A-Z, a-z, 0-9, '_' or '-'")
    stamp = _format_instant(signed_at)
    body = data.to_json()
    signature = key.sign(chip_signing_input(body, signed_at=stamp, kid=kid))
    return {
        "format": CHIP_FORMAT,
        "data": body,
        "signed_at": stamp,
        "kid": kid,
        "signature": base64.b64encode(signature).decode("ascii"),
    }


# -- reading ----------------------------------------------------------------------------------
def _malformed(why: str) -> NoReturn:
    # ``why`` names the member or rule, never its content (it may be personal data).
    raise ChipMalformed(details={"rule": why})


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            _malformed("duplicate_member")
        out[key] = value
    return out


def _no_constants(_: str) -> NoReturn:
    _malformed("json")  # NaN, Infinity, -Infinity are not JSON (RFC 8259 §6)


def _parse_json(raw: bytes) -> Any:
    if len(raw) > MAX_CHIP_BYTES:
        _malformed("too_large")
    try:
        text = raw.decode("utf-8")  # strict: invalid UTF-8 and encoded surrogates fail here
    except UnicodeDecodeError:
        _malformed("encoding")
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except (ValueError, RecursionError):  # JSONDecodeError is a ValueError
        _malformed("json")


def _string(obj: Mapping[str, Any], member: str) -> str:
    value = obj[member]
    if type(value) is not str:
        _malformed(member)
    if len(value) > _MAX_STRING:
        _malformed(member)
    try:
        value.encode("utf-8")  # a lone surrogate (e.g. from "\ud800") cannot be UTF-8
    except UnicodeEncodeError:
        _malformed(member)
    return value


def _members(obj: object, expected: frozenset[str], where: str) -> Mapping[str, Any]:
    if type(obj) is not dict:
        _malformed(where)
    if set(obj) != expected:
        _malformed(f"{where}_members")
    return obj


def _date(value: str, member: str) -> dt.date:
    if not _DATE_RE.match(value):
        _malformed(member)
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        _malformed(member)


def _parse_data(data: Mapping[str, Any], now: dt.datetime) -> ChipData:
    """The meaning of the (already authenticated) data member; anything off is malformed."""
    doc_type = _TYPES_BY_VALUE.get(data["document_type"])
    if doc_type is None:
        _malformed("document_type")
    number = data["number"]
    check = check_document_number(
        number, today=now.astimezone(CHINA_TZ).date(), expected_type=doc_type
    )
    # The issuer writes the normalised number; anything else is not what it would sign.
    if not check.valid or check.normalized != number:
        _malformed("number")
    try:
        name = validate_name(data["name"])
    except InvalidName:
        _malformed("name")
    sex = data["sex"]
    if sex not in ("M", "F"):
        _malformed("sex")
    if not _ALPHA3_RE.match(data["nationality"]):
        _malformed("nationality")
    dates = {m: None if data[m] is None else _date(data[m], m) for m in _OPTIONAL_DATES}
    return ChipData(
        document_type=doc_type,
        number=number,
        name=name,
        birth_date=_date(data["birth_date"], "birth_date"),
        sex="M" if sex == "M" else "F",
        nationality=data["nationality"],
        issued_on=dates["issued_on"],
        expires_on=dates["expires_on"],
    )


def read_chip(
    document: bytes | str | Mapping[str, Any],
    *,
    trusted: Mapping[str, Sm2PublicKey],
    now: dt.datetime,
    max_age: dt.timedelta = DEFAULT_MAX_AGE,
) -> ChipData:
    """Passive authentication of a chip document (ICAO 9303-11 §5.1, simulated).

    In order: the shape (size, exact members, types, UTF-8) → :class:`ChipMalformed`; the key
    id among ``trusted`` and the SM2 signature → :class:`ChipSignatureInvalid`; ``signed_at``
    within ``max_age`` before ``now`` and at most :data:`FUTURE_SKEW` after it (both bounds
    inclusive) → :class:`ChipExpired`; the data's meaning (document type, a valid normalised
    number of that type, name, dates, sex, nationality) → :class:`ChipMalformed`.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if isinstance(document, str):
        try:
            document = document.encode("utf-8")
        except UnicodeEncodeError:
            _malformed("encoding")
    parsed: object = _parse_json(document) if isinstance(document, bytes) else document
    top = _members(parsed, _TOP_MEMBERS, "document")
    data_obj = _members(top["data"], _DATA_MEMBERS, "data")
    data: dict[str, str | None] = {}
    for member in sorted(_DATA_MEMBERS):
        if member in _OPTIONAL_DATES and data_obj[member] is None:
            data[member] = None
        else:
            data[member] = _string(data_obj, member)
    if _string(top, "format") != CHIP_FORMAT:
        _malformed("format")
    kid = _string(top, "kid")
    if not _KID_RE.match(kid):
        _malformed("kid")
    stamp = _string(top, "signed_at")
    if not _SIGNED_AT_RE.match(stamp):
        _malformed("signed_at")
    try:
        signed_at = dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        _malformed("signed_at")
    encoded = _string(top, "signature")
    if len(encoded) > _MAX_SIGNATURE_B64 or not _B64_RE.match(encoded):
        _malformed("signature")
    try:
        signature = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        _malformed("signature")
    if base64.b64encode(signature).decode("ascii") != encoded:  # one encoding per signature
        _malformed("signature")

    public = trusted.get(kid)
    if public is None:
        raise ChipSignatureInvalid()
    try:
        public.verify(signature, chip_signing_input(data, signed_at=stamp, kid=kid))
    except SignatureInvalid:
        raise ChipSignatureInvalid() from None

    if now - signed_at > max_age or signed_at - now > FUTURE_SKEW:
        raise ChipExpired()
    return _parse_data(data, now)


# -- the platform's trust file: the issuing authorities' public keys ------------------------
@dataclass(frozen=True, slots=True)
class TrustedIssuerKey:
    kid: str
    public_key: Sm2PublicKey
    added_at: str  # ISO 8601, as written


def issuer_key_entry(kid: str, public_key: Sm2PublicKey, added_at: dt.datetime) -> dict[str, str]:
    """One ``keys`` entry of the trust file (also the form ``chip-issuer export-public``
    writes, without ``added_at``): the public key as hex of ``0x04 ‖ X ‖ Y``."""
    return {
        "kid": kid,
        "public_key": public_key.uncompressed().hex(),
        "added_at": _format_instant(added_at),
    }


def parse_issuer_key(entry: object, *, with_added_at: bool = True) -> TrustedIssuerKey:
    """One entry of the trust file (or an exported public key); ValueError if malformed."""
    expected = {"kid", "public_key", "added_at"} if with_added_at else {"kid", "public_key"}
    if type(entry) is not dict or set(entry) != expected:
        raise ValueError(
            "an issuer key is {kid, public_key" + (", added_at}" if with_added_at else "}")
        )
    kid, public_hex = entry["kid"], entry["public_key"]
    added_at = entry.get("added_at", "")
    if type(kid) is not str or not _KID_RE.match(kid):
        raise ValueError("kid: 1-64 characters of A-Z, a-z, 0-9, '_' or '-'")
    if type(public_hex) is not str or not re.match(r"^04[0-9a-f]{128}\Z", public_hex):
        raise ValueError("public_key: lower-case hex of the 65-byte uncompressed SM2 point")
    if type(added_at) is not str or (with_added_at and not _SIGNED_AT_RE.match(added_at)):
        raise ValueError("added_at: YYYY-MM-DDTHH:MM:SSZ")
    try:
        public = Sm2PublicKey.from_uncompressed(bytes.fromhex(public_hex))
    except InvalidKeyMaterial:
        raise ValueError("public_key: not a point on sm2p256v1") from None
    return TrustedIssuerKey(kid=kid, public_key=public, added_at=added_at)


def parse_trust_file(text: str) -> list[TrustedIssuerKey]:
    """``{"keys": [{"kid", "public_key", "added_at"}, ...]}``; ValueError if malformed (the
    message names the problem, never the content). Key ids are unique."""
    try:
        document = json.loads(text, object_pairs_hook=_strict_pairs, parse_constant=_reject)
    except RecursionError:
        raise ValueError("not JSON") from None
    if type(document) is not dict or set(document) != {"keys"}:
        raise ValueError('the trust file is {"keys": [...]}')
    if type(document["keys"]) is not list:
        raise ValueError('"keys" is a list')
    keys = [parse_issuer_key(entry) for entry in document["keys"]]
    if len({k.kid for k in keys}) != len(keys):
        raise ValueError("a kid appears twice")
    return keys


def _strict_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError("duplicate member")
        out[key] = value
    return out


def _reject(_: str) -> NoReturn:
    raise ValueError("not JSON")
