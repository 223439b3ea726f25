"""Chinese identity document numbers: normalise, classify, validate (pure; no I/O).

Supported types (:class:`DocumentType`, blind-index ``code`` in brackets):

* ``resident_id`` [01] 居民身份证, GB 11643-1999, 18 characters; 15-digit first-generation
  numbers are accepted and converted to 18 (warning ``legacy_15_digit``).
* ``residence_permit`` [02] 港澳台居民居住证: GB 11643 layout, address code 810000 / 820000 /
  830000 (``region_code`` is that prefix).
* ``foreign_permanent_residence`` [03] 外国人永久居留身份证: 2004/2017 ``AAA`` + 12 digits, and
  2023 ``9 PP NNN YYYYMMDD SSS C`` (MOD 11-2). ``nationality`` is the ISO 3166-1 alpha-3 code;
  for 2023 cards ``region_code`` is the province-level code ``PP0000``.
* ``travel_permit_hkmo`` [04] 港澳居民来往内地通行证: ``H``/``M`` + 8 or 10 digits; legacy
  ``H``/``M`` + letter + 6-7 digits (warning ``legacy_format``).
* ``travel_permit_tw`` [05] 台湾居民来往大陆通行证: 8 digits; pre-2008 10 digits with an
  optional ``(X)`` issuer code (warning ``legacy_format``).
* ``passport`` [06] PRC passport: ``E`` + 8 digits, ``E`` + letter (not I/O) + 7 digits, ``G`` +
  8 digits.

The type follows from the format alone (see :func:`netid.documents.validate.classify`).

Rule strings (stable API; ``DocumentCheck.rule`` and ``InvalidDocumentNumber.rule``):

``empty``
    nothing left after removing spaces.
``length``
    wrong number of characters for the type (or for every type), or raw input > 64 characters.
``charset``
    a character other than ASCII/full-width digits, Latin letters and ``(``/``)`` (for USCC:
    outside ``0-9A-HJ-NPQRTUWXY``). Hyphens, non-ASCII digits (e.g. Arabic-Indic), zero-width
    and control characters land here.
``format``
    right characters and length, wrong arrangement (e.g. ``X`` before the last position).
``region``
    resident ID address code not under a mainland province (71/81/82/83 or a province that never
    existed); 2023 foreigner's card with an unknown province.
``birth_date``
    not a real calendar date, before 1860-01-01, or after ``today`` (default: today in UTC+8).
    For 2017 foreigner's cards: the YYMMDD is not plausible in either century.
``check_digit``
    ISO 7064 MOD 11-2 (GB 11643-1999 §5.5) or, for USCC, GB 32100-2015 / GB 11714-1997 mismatch.
``prefix``
    the leading character(s) start no supported number of the (expected) type.
``nationality``
    not a foreign ISO 3166-1 country (CHN, HKG, MAC, TWN are not foreign).
``type_mismatch``
    ``expected_type`` was given and the number has the format of another type.

Warnings (valid numbers only): ``legacy_15_digit``, ``region_unknown`` (the county code is
missing from our GB/T 2260 table but its province exists: still valid, the table may lag),
``legacy_format``.

Decisions: birth dates before 1860-01-01 are rejected (first numbers assigned 1984-85, nobody
alive then was born earlier); spaces (Unicode ``Zs``, TAB, CR, LF) are removed, hyphens are
NOT (``charset``); full-width U+FF01..U+FF5E map to ASCII, ASCII letters are upper-cased, and
nothing is ever guessed (no ``O`` → ``0``). Messages never contain the submitted characters, and
invalid results carry no ``normalized`` value.
"""

from __future__ import annotations

from netid.documents.checksums import gb11643_check_character
from netid.documents.errors import InvalidDocumentNumber
from netid.documents.model import BIRTH_DATE_FLOOR, DocumentCheck, DocumentType, UsccCheck
from netid.documents.normalize import normalize_document_input
from netid.documents.validate import (
    RULES,
    WARNINGS,
    check_document_number,
    check_uscc,
    parse_document_number,
    upgrade_legacy_id15,
)

__all__ = [
    "BIRTH_DATE_FLOOR",
    "RULES",
    "WARNINGS",
    "DocumentCheck",
    "DocumentType",
    "InvalidDocumentNumber",
    "UsccCheck",
    "check_document_number",
    "check_uscc",
    "gb11643_check_character",
    "normalize_document_input",
    "parse_document_number",
    "upgrade_legacy_id15",
]
