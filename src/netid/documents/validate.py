"""Validation of Chinese identity document numbers (pure, no I/O).

See the package docstring of :mod:`netid.documents` for the rule strings, warnings and the
decisions taken. Internally each validator either returns a valid :class:`DocumentCheck` or
raises :class:`_Fail`; :func:`check_document_number` turns that into an invalid result and
:func:`parse_document_number` into :class:`InvalidDocumentNumber`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from netid.core.clock import SystemClock, today_in_china
from netid.documents import countries, regions
from netid.documents.checksums import (
    USCC_ALPHABET,
    gb11643_check_character,
    gb11714_check_character,
    uscc_check_character,
)
from netid.documents.errors import InvalidDocumentNumber
from netid.documents.model import BIRTH_DATE_FLOOR, DocumentCheck, DocumentType, Sex, UsccCheck
from netid.documents.normalize import normalize_document_input

# Longest accepted raw input (before normalisation); longer input is rejected as ``length``
# without further work. The longest supported number has 14 characters less than this.
MAX_RAW_LENGTH = 64

RULES: tuple[str, ...] = (
    "empty",
    "length",
    "charset",
    "format",
    "region",
    "birth_date",
    "check_digit",
    "prefix",
    "nationality",
    "type_mismatch",
)
WARNINGS: tuple[str, ...] = ("legacy_15_digit", "region_unknown", "legacy_format")

_ALLOWED = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ()")
_USCC_ALLOWED = frozenset(USCC_ALPHABET)

_RE_ID18 = re.compile(r"\d{17}[\dX]", re.ASCII)
_RE_ID15 = re.compile(r"\d{15}", re.ASCII)
_RE_PR2017_FAMILY = re.compile(r"[A-Z]{3}\d*", re.ASCII)
_RE_PR2017 = re.compile(r"[A-Z]{3}\d{12}", re.ASCII)
_RE_HKMO = re.compile(r"[HM](\d{8}|\d{10})", re.ASCII)  # standards.md 1.4
_RE_HKMO_LEGACY = re.compile(r"[HM][A-Z]\d{6,7}", re.ASCII)  # booklet forms, legacy only
_RE_TW = re.compile(r"\d{8}", re.ASCII)  # standards.md 1.5, since 2008-09-25
_RE_TW_LEGACY = re.compile(r"\d{10}(\([0-9A-Z]\))?", re.ASCII)  # pre-2008, historical data
_RE_PASSPORT = re.compile(r"E(\d{8}|[A-HJ-NP-Z]\d{7})|G\d{8}", re.ASCII)  # standards.md 1.6
_RE_DIGITS = re.compile(r"\d+", re.ASCII)

_LABELS: dict[DocumentType, str] = {
    DocumentType.RESIDENT_ID: "resident ID",
    DocumentType.RESIDENCE_PERMIT: "residence permit",
    DocumentType.FOREIGN_PERMANENT_RESIDENCE: "foreigner's permanent residence ID",
    DocumentType.TRAVEL_PERMIT_HKMO: "Hong Kong/Macau travel permit",
    DocumentType.TRAVEL_PERMIT_TW: "Taiwan travel permit",
    DocumentType.PASSPORT: "passport",
}


class _Fail(Exception):
    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


def _default_today() -> dt.date:
    return today_in_china(SystemClock())


# --- shared pieces -----------------------------------------------------------------------------


def _prepare(raw: str, allowed: frozenset[str]) -> str:
    """Normalise and apply the ``empty``/``length``/``charset`` rules common to all types."""
    if len(raw) > MAX_RAW_LENGTH:
        raise _Fail("length", "The input is too long to be a document number.")
    s = normalize_document_input(raw)
    if not s:
        raise _Fail("empty", "The document number is empty.")
    for i, ch in enumerate(s, start=1):
        if ch not in allowed:
            raise _Fail(
                "charset",
                f"Character {i} is not allowed in a document number "
                "(only ASCII or full-width digits and Latin letters are accepted).",
            )
    return s


def _birth_date(yyyymmdd: str, today: dt.date) -> dt.date:
    """GB 11643-1999 §5.3: YYYYMMDD per GB/T 7408; must be real, >= floor and <= today."""
    try:
        value = dt.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        raise _Fail("birth_date", "The birth date is not a real calendar date.") from None
    if value < BIRTH_DATE_FLOOR:
        raise _Fail("birth_date", f"The birth date is before {BIRTH_DATE_FLOOR.isoformat()}.")
    if value > today:
        raise _Fail("birth_date", "The birth date is in the future.")
    return value


def _sex(sequence_digit: str) -> Sex:
    # GB 11643-1999 §5.4: the last digit of the sequence code is odd for men, even for women.
    return "M" if int(sequence_digit) % 2 else "F"


def _check_mod11_2(s18: str) -> None:
    # GB 11643-1999 §5.5, ISO 7064:1983 MOD 11-2.
    if gb11643_check_character(s18[:17]) != s18[17]:
        raise _Fail("check_digit", "The check character does not match (ISO 7064 MOD 11-2).")


def _length_fail(doc: DocumentType, expected: str) -> _Fail:
    return _Fail("length", f"A {_LABELS[doc]} number has {expected} characters.")


def _format_fail(doc: DocumentType) -> _Fail:
    return _Fail("format", f"The characters do not follow the {_LABELS[doc]} number format.")


# --- per-type validators -----------------------------------------------------------------------


def _resident_region(code: str) -> tuple[str, ...]:
    """GB 11643-1999 §5.2 address code (GB/T 2260): returns warnings or raises ``region``."""
    if not regions.issues_resident_ids(code):
        raise _Fail(
            "region",
            "The address code is not under a mainland province that issues resident IDs.",
        )
    return () if regions.is_known_region(code) else ("region_unknown",)


def _validate_resident_id(s: str, today: dt.date) -> DocumentCheck:
    doc = DocumentType.RESIDENT_ID
    if len(s) == 15:
        # First-generation (legacy) number: AAAAAA YYMMDD SSS, no check character.
        if not _RE_ID15.fullmatch(s):
            raise _format_fail(doc)
        warnings = _resident_region(s[:6])
        born = _birth_date("19" + s[6:12], today)
        return DocumentCheck(
            valid=True,
            type=doc,
            normalized=upgrade_legacy_id15(s),
            birth_date=born,
            sex=_sex(s[14]),
            region_code=s[:6],
            warnings=("legacy_15_digit", *warnings),
        )
    if len(s) != 18:
        raise _length_fail(doc, "18 (or 15 for a legacy number)")
    if not _RE_ID18.fullmatch(s):
        raise _format_fail(doc)
    _check_mod11_2(s)
    warnings = _resident_region(s[:6])
    born = _birth_date(s[6:14], today)
    return DocumentCheck(
        valid=True,
        type=doc,
        normalized=s,
        birth_date=born,
        sex=_sex(s[16]),
        region_code=s[:6],
        warnings=warnings,
    )


_PERMIT_PREFIXES = frozenset(regions.RESIDENCE_PERMIT_PREFIXES.values())


def _validate_residence_permit(s: str, today: dt.date) -> DocumentCheck:
    doc = DocumentType.RESIDENCE_PERMIT
    if len(s) != 18:
        raise _length_fail(doc, "18")
    if not _RE_ID18.fullmatch(s):
        raise _format_fail(doc)
    if s[:6] not in _PERMIT_PREFIXES:
        raise _Fail("prefix", "A residence permit number starts with 810000, 820000 or 830000.")
    _check_mod11_2(s)
    born = _birth_date(s[6:14], today)
    return DocumentCheck(
        valid=True,
        type=doc,
        normalized=s,
        birth_date=born,
        sex=_sex(s[16]),
        region_code=s[:6],
    )


def _validate_foreign_pr(s: str, today: dt.date) -> DocumentCheck:
    doc = DocumentType.FOREIGN_PERMANENT_RESIDENCE
    if s[:1].isdigit():
        return _validate_foreign_pr_2023(s, today)
    if not _RE_PR2017_FAMILY.fullmatch(s):
        if s[:3].isalpha():
            raise _format_fail(doc)
        raise _Fail(
            "prefix", "A foreigner's permanent residence ID starts with 9 or with 3 letters."
        )
    if len(s) != 15:
        raise _length_fail(doc, "15 (2017 card) or 18 (2023 card)")
    return _validate_foreign_pr_2017(s, today)


def _validate_foreign_pr_2023(s: str, today: dt.date) -> DocumentCheck:
    # 2023 card: 9 | PP province | NNN ISO 3166-1 numeric | YYYYMMDD | SSS | MOD 11-2 check.
    doc = DocumentType.FOREIGN_PERMANENT_RESIDENCE
    if len(s) != 18:
        raise _length_fail(doc, "15 (2017 card) or 18 (2023 card)")
    if not _RE_ID18.fullmatch(s):
        raise _format_fail(doc)
    if s[0] != "9":
        raise _Fail("prefix", "An 18-digit foreigner's permanent residence ID starts with 9.")
    _check_mod11_2(s)
    if not regions.issues_resident_ids(s[1:3]):
        raise _Fail("region", "The province code of the accepting authority does not exist.")
    nationality = countries.alpha3_for_numeric(s[3:6])
    if nationality is None:
        raise _Fail("nationality", "The nationality code is not a foreign ISO 3166-1 country.")
    born = _birth_date(s[6:14], today)
    return DocumentCheck(
        valid=True,
        type=doc,
        normalized=s,
        birth_date=born,
        sex=_sex(s[16]),
        region_code=s[1:3] + "0000",
        nationality=nationality,
    )


def _plausible_yymmdd(yymmdd: str, today: dt.date) -> bool:
    for century in (1900, 2000):
        try:
            value = dt.date(century + int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:6]))
        except ValueError:
            continue
        if value <= today:
            return True
    return False


def _validate_foreign_pr_2017(s: str, today: dt.date) -> DocumentCheck:
    # 2004/2017 card: AAA (ISO 3166-1 alpha-3) + 12 digits. No official internal layout and no
    # official check digit (standards.md 1.3): only format, nationality and the plausibility of
    # the YYMMDD read at characters 8-13 are checked. The century is ambiguous, so no birth date
    # and no sex are reported.
    doc = DocumentType.FOREIGN_PERMANENT_RESIDENCE
    if not _RE_PR2017.fullmatch(s):
        raise _format_fail(doc)
    if not countries.is_valid_alpha3_2017(s[:3]):
        raise _Fail("nationality", "The nationality code is not a foreign ISO 3166-1 country.")
    if not _plausible_yymmdd(s[7:13], today):
        raise _Fail("birth_date", "The encoded birth date is not a plausible date.")
    return DocumentCheck(valid=True, type=doc, normalized=s, nationality=s[:3])


def _validate_hkmo(s: str, today: dt.date) -> DocumentCheck:
    # standards.md 1.4: H/M + 8-digit lifetime number (+ 2-digit issue count); legacy booklets
    # H/M + letter + 6-7 digits. No public check-digit algorithm.
    doc = DocumentType.TRAVEL_PERMIT_HKMO
    if s[0] not in "HM":
        raise _Fail("prefix", "A Hong Kong/Macau travel permit number starts with H or M.")
    if _RE_HKMO.fullmatch(s):
        return DocumentCheck(valid=True, type=doc, normalized=s)
    if _RE_HKMO_LEGACY.fullmatch(s):
        return DocumentCheck(valid=True, type=doc, normalized=s, warnings=("legacy_format",))
    if len(s) not in (8, 9, 11):
        raise _length_fail(doc, "9 or 11 (8 or 9 for a legacy booklet)")
    raise _format_fail(doc)


def _validate_tw(s: str, today: dt.date) -> DocumentCheck:
    # standards.md 1.5: 8 digits since 2008-09-25; 10 digits with an optional "(X)" issuer code
    # before that, accepted as historical data.
    doc = DocumentType.TRAVEL_PERMIT_TW
    if _RE_TW.fullmatch(s):
        return DocumentCheck(valid=True, type=doc, normalized=s)
    if _RE_TW_LEGACY.fullmatch(s):
        return DocumentCheck(valid=True, type=doc, normalized=s, warnings=("legacy_format",))
    if _RE_DIGITS.fullmatch(s):
        raise _length_fail(doc, "8 (10 for a pre-2008 number)")
    if s[0].isalpha():
        raise _Fail("prefix", "A Taiwan travel permit number starts with a digit.")
    raise _format_fail(doc)


def _validate_passport(s: str, today: dt.date) -> DocumentCheck:
    # standards.md 1.6: E + 8 digits (until 2017-04-05), E + letter (not I/O) + 7 digits,
    # G + 8 digits (old non-chip ordinary passport). No check digit of its own.
    doc = DocumentType.PASSPORT
    if s[0] not in "EG":
        raise _Fail("prefix", "A passport number starts with E or G.")
    if len(s) != 9:
        raise _length_fail(doc, "9")
    if not _RE_PASSPORT.fullmatch(s):
        raise _format_fail(doc)
    return DocumentCheck(valid=True, type=doc, normalized=s)


_VALIDATORS: dict[DocumentType, Callable[[str, dt.date], DocumentCheck]] = {
    DocumentType.RESIDENT_ID: _validate_resident_id,
    DocumentType.RESIDENCE_PERMIT: _validate_residence_permit,
    DocumentType.FOREIGN_PERMANENT_RESIDENCE: _validate_foreign_pr,
    DocumentType.TRAVEL_PERMIT_HKMO: _validate_hkmo,
    DocumentType.TRAVEL_PERMIT_TW: _validate_tw,
    DocumentType.PASSPORT: _validate_passport,
}


def classify(s: str) -> DocumentType | None:
    """The document type implied by the shape of a normalised number, or ``None``.

    The supported formats do not overlap: 3 letters + digits = foreigner's card (2017) - tested
    first because alpha-3 codes such as GBR, ESP or MEX begin with a passport or permit letter;
    H/M = Hong Kong/Macau permit; E/G = passport; 18 digits starting with 9 = foreigner's card
    (2023); 810000/820000/830000 + 12 = residence permit; other 15/18 = resident ID;
    8 or 10 digits (optionally with "(X)") = Taiwan permit.
    """
    if not s:
        return None
    if _RE_PR2017_FAMILY.fullmatch(s):
        return DocumentType.FOREIGN_PERMANENT_RESIDENCE
    first = s[0]
    if first in "HM":
        return DocumentType.TRAVEL_PERMIT_HKMO
    if first in "EG":
        return DocumentType.PASSPORT
    if not first.isdigit():
        return None
    if _RE_TW_LEGACY.fullmatch(s):
        return DocumentType.TRAVEL_PERMIT_TW
    n = len(s)
    if n in (8, 10):
        return DocumentType.TRAVEL_PERMIT_TW
    if n == 18:
        if first == "9":
            return DocumentType.FOREIGN_PERMANENT_RESIDENCE
        if s[:6] in _PERMIT_PREFIXES:
            return DocumentType.RESIDENCE_PERMIT
        return DocumentType.RESIDENT_ID
    if n == 15:
        return DocumentType.RESIDENT_ID
    return None


def _unclassified(s: str) -> _Fail:
    if s[0].isdigit():
        if all(c in "0123456789X" for c in s):
            return _Fail("length", "No supported document number has this length.")
        return _Fail("format", "The characters do not follow any supported document format.")
    if s[0].isalpha():
        return _Fail("prefix", "No supported document number starts with this character.")
    return _Fail("format", "The characters do not follow any supported document format.")


def _check(raw: str, today: dt.date | None, expected_type: DocumentType | None) -> DocumentCheck:
    detected: DocumentType | None = None
    try:
        s = _prepare(raw, _ALLOWED)
        detected = classify(s)
        if expected_type is not None:
            if detected is not None and detected != expected_type:
                raise _Fail(
                    "type_mismatch",
                    f"This looks like a {_LABELS[detected]} number, "
                    f"not a {_LABELS[expected_type]} number.",
                )
            detected = expected_type
        if detected is None:
            raise _unclassified(s)
        return _VALIDATORS[detected](s, today if today is not None else _default_today())
    except _Fail as fail:
        return DocumentCheck(valid=False, type=detected, rule=fail.rule, message=fail.message)


def check_document_number(
    raw: str, *, today: dt.date | None = None, expected_type: DocumentType | None = None
) -> DocumentCheck:
    """Check a document number; never raises on bad input (see the package docstring).

    ``today`` (default: today in China Standard Time) bounds birth dates. With
    ``expected_type``, a number of another recognised type fails with ``type_mismatch`` and an
    unrecognised one is reported against that type's rules.
    """
    return _check(raw, today, expected_type)


def parse_document_number(
    raw: str, *, today: dt.date | None = None, expected_type: DocumentType | None = None
) -> DocumentCheck:
    """Like :func:`check_document_number` but raise :class:`InvalidDocumentNumber` if invalid."""
    result = _check(raw, today, expected_type)
    if not result.valid:
        raise InvalidDocumentNumber(result.message, rule=result.rule or "format")
    return result


def upgrade_legacy_id15(number15: str) -> str:
    """Convert a 15-digit first-generation ID number to 18 characters.

    GB 11643-1999 upgrade: insert ``19`` before the 2-digit birth year and append the MOD 11-2
    check character. Only the shape is checked (15 digits after normalisation); use
    :func:`check_document_number` to validate region and date. Raises
    :class:`InvalidDocumentNumber` (rule ``empty``/``length``/``charset``/``format``).
    """
    try:
        s = _prepare(number15, _ALLOWED)
        if len(s) != 15:
            raise _length_fail(DocumentType.RESIDENT_ID, "15 in a legacy number")
        if not _RE_ID15.fullmatch(s):
            raise _format_fail(DocumentType.RESIDENT_ID)
    except _Fail as fail:
        raise InvalidDocumentNumber(fail.message, rule=fail.rule) from None
    first17 = s[:6] + "19" + s[6:]
    return first17 + gb11643_check_character(first17)


def check_uscc(raw: str) -> UsccCheck:
    """Check a unified social credit code (GB 32100-2015); never raises on bad input.

    GB 32100-2015 (code structure): 18 characters of ``0-9A-HJ-NPQRTUWXY`` (no I, O, S, V, Z):
    registration authority (1), organisation type (1), registration region GB/T 2260 (6 digits),
    organisation code GB 11714 (9, its last character a GB 11714 check character), check
    character (1).
    The authority and type tables have been extended by later notices and are not checked; a
    region code we do not know (other than the national-level 100000) only yields the warning
    ``region_unknown``.
    """
    try:
        s = _prepare(raw, _USCC_ALLOWED)
        if len(s) != 18:
            raise _Fail("length", "A unified social credit code has 18 characters.")
        if not _RE_DIGITS.fullmatch(s[2:8]):
            raise _Fail("format", "Characters 3-8 of a unified social credit code are digits.")
        if uscc_check_character(s[:17]) != s[17]:
            raise _Fail("check_digit", "The check character does not match (GB 32100-2015).")
        if gb11714_check_character(s[8:16]) != s[16]:
            raise _Fail(
                "check_digit",
                "The organisation code check character does not match (GB 11714-1997).",
            )
    except _Fail as fail:
        return UsccCheck(valid=False, rule=fail.rule, message=fail.message)
    region = s[2:8]
    known = region == "100000" or regions.is_known_region(region)
    return UsccCheck(
        valid=True,
        normalized=s,
        region_code=region,
        organization_code=s[8:17],
        warnings=() if known else ("region_unknown",),
    )
