"""Deterministic generators of VALID document numbers, for synthetic data and property tests.

Every generator draws only from the ``random.Random`` it is given (same seed → same output) and
every output passes :func:`netid.documents.check_document_number` (birth dates must lie between
:data:`~netid.documents.model.BIRTH_DATE_FLOOR` and today). Arguments that cannot produce a valid
number raise :class:`ValueError`.

The numbers are synthetic: they are structurally valid but are not known to belong to anyone.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Literal

from netid.documents import countries, regions
from netid.documents.checksums import (
    USCC_ALPHABET,
    gb11643_check_character,
    gb11714_check_character,
    uscc_check_character,
)
from netid.documents.model import BIRTH_DATE_FLOOR, Sex

__all__ = [
    "birth_date",
    "county_code",
    "foreign_pr_2017",
    "foreign_pr_2023",
    "nationality_alpha3",
    "passport",
    "residence_permit",
    "resident_id",
    "sex",
    "travel_permit_hkmo",
    "travel_permit_tw",
    "uscc",
]

_DIGITS = "0123456789"
# 1.6 (standards.md): E + letter except I and O + 7 digits, since 2017-04-05.
_PASSPORT_SECOND = "ABCDEFGHJKLMNPQRSTUVWXYZ"
# GB 32100-2015: organisation-code body characters must also be in the USCC alphabet.
_ORG_BODY_ALPHABET = USCC_ALPHABET


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(_DIGITS) for _ in range(n))


def _check_birth_date(value: dt.date) -> str:
    if value < BIRTH_DATE_FLOOR:
        raise ValueError(f"birth_date must be on or after {BIRTH_DATE_FLOOR.isoformat()}")
    return value.strftime("%Y%m%d")


def _sequence(rng: random.Random, sex: Sex) -> str:
    # GB 11643-1999 §5.4: the sequence code is odd for men, even for women; 000 is avoided.
    if sex == "M":
        return f"{rng.randrange(1, 1000, 2):03d}"
    if sex == "F":
        return f"{rng.randrange(2, 1000, 2):03d}"
    raise ValueError("sex must be 'M' or 'F'")


def _with_check(first17: str) -> str:
    return first17 + gb11643_check_character(first17)


def sex(rng: random.Random) -> Sex:
    """A random sex marker."""
    return "M" if rng.random() < 0.5 else "F"


def birth_date(
    rng: random.Random,
    *,
    start: dt.date = dt.date(1930, 1, 1),
    end: dt.date = dt.date(2020, 12, 31),
) -> dt.date:
    """A uniformly random date in [start, end]."""
    if end < start:
        raise ValueError("end must not be before start")
    return start + dt.timedelta(days=rng.randrange((end - start).days + 1))


def county_code(rng: random.Random) -> str:
    """A random known county-level GB/T 2260 code (historical codes included)."""
    return rng.choice(regions.known_county_codes())


def nationality_alpha3(rng: random.Random) -> str:
    """A random current foreign ISO 3166-1 alpha-3 code."""
    return rng.choice(countries.foreign_alpha3_codes())


def resident_id(rng: random.Random, *, birth_date: dt.date, sex: Sex, region_code: str) -> str:
    """An 18-character resident ID number (GB 11643-1999 §5)."""
    if not regions.issues_resident_ids(region_code) or len(region_code) != 6:
        raise ValueError("region_code must be a 6-digit code under a mainland province")
    return _with_check(region_code + _check_birth_date(birth_date) + _sequence(rng, sex))


def residence_permit(
    rng: random.Random, *, region: Literal["HK", "MO", "TW"], birth_date: dt.date, sex: Sex
) -> str:
    """A 港澳台居民居住证 number: GB 11643 layout with address code 810000/820000/830000."""
    try:
        prefix = regions.RESIDENCE_PERMIT_PREFIXES[region]
    except KeyError:
        raise ValueError("region must be 'HK', 'MO' or 'TW'") from None
    return _with_check(prefix + _check_birth_date(birth_date) + _sequence(rng, sex))


def foreign_pr_2023(
    rng: random.Random, *, nationality_alpha3: str, birth_date: dt.date, sex: Sex
) -> str:
    """An 18-digit 2023 foreigner's permanent residence ID number.

    Layout ``9 PP NNN YYYYMMDD SSS C``: province of the accepting authority, ISO 3166-1 numeric
    nationality, birth date, sequence (odd = male), ISO 7064 MOD 11-2 check character.
    """
    numeric = countries.numeric_for_alpha3(nationality_alpha3)
    if numeric is None:
        raise ValueError("nationality_alpha3 must be a current foreign ISO 3166-1 alpha-3 code")
    province = rng.choice(regions.mainland_province_codes())
    return _with_check(
        "9" + province + numeric + _check_birth_date(birth_date) + _sequence(rng, sex)
    )


def _icao_check_digit(chars: str) -> str:
    # ICAO 9303 part 3 §4.9: weights 7-3-1, digits as values, A..Z = 10..35.
    total = 0
    for i, c in enumerate(chars):
        value = int(c) if c.isdigit() else ord(c) - ord("A") + 10
        total += value * (7, 3, 1)[i % 3]
    return str(total % 10)


def foreign_pr_2017(rng: random.Random, *, nationality_alpha3: str, birth_date: dt.date) -> str:
    """A 15-character 2004/2017 foreigner's permanent residence ID number.

    ``AAA`` nationality + 12 digits. The internal layout is not official; we follow the reading
    ``RRRR YYMMDD S C`` (accepting region, 2-digit-year birth date, sequence, 7-3-1 check digit)
    so the output looks realistic; the validator only checks format, code and date plausibility.
    """
    if not countries.is_valid_alpha3_2017(nationality_alpha3):
        raise ValueError("nationality_alpha3 must be a foreign ISO 3166-1 alpha-3 code")
    _check_birth_date(birth_date)
    body = (
        nationality_alpha3
        + rng.choice(regions.mainland_province_codes())
        + _digits(rng, 2)
        + birth_date.strftime("%y%m%d")
        + _digits(rng, 1)
    )
    return body + _icao_check_digit(body)


def travel_permit_hkmo(rng: random.Random, region: Literal["HK", "MO"]) -> str:
    """A current-format 港澳居民来往内地通行证 number: ``H``/``M`` + 8 digits."""
    if region == "HK":
        return "H" + _digits(rng, 8)
    if region == "MO":
        return "M" + _digits(rng, 8)
    raise ValueError("region must be 'HK' or 'MO'")


def travel_permit_tw(rng: random.Random) -> str:
    """A current-format 台湾居民来往大陆通行证 number: 8 digits (lifetime number since 2008)."""
    return _digits(rng, 8)


def passport(rng: random.Random) -> str:
    """A PRC ordinary e-passport number: ``E`` + letter (not I/O) + 7 digits, or ``E`` + 8
    digits (the pre-2017 form) one time in five."""
    if rng.random() < 0.2:
        return "E" + _digits(rng, 8)
    return "E" + rng.choice(_PASSPORT_SECOND) + _digits(rng, 7)


def uscc(rng: random.Random) -> str:
    """A unified social credit code (GB 32100-2015) of an enterprise (``91``).

    Region: a random known county code; positions 9-17: an organisation code with its
    GB 11714-1997 check character; position 18: the GB 32100 check character.
    """
    body = "".join(rng.choice(_ORG_BODY_ALPHABET) for _ in range(8))
    org_code = body + gb11714_check_character(body)
    first17 = "91" + county_code(rng) + org_code
    return first17 + uscc_check_character(first17)
