"""Property tests (security.md §3.2, SEC-44) for netid.documents."""

from __future__ import annotations

import datetime as dt
import random
import re
import sys
import unicodedata
from typing import Literal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from stdnum import exceptions as stdnum_exceptions
from stdnum.cn import ric
from stdnum.cn import uscc as stdnum_uscc

from netid.documents import (
    BIRTH_DATE_FLOOR,
    DocumentType,
    check_document_number,
    check_uscc,
    gb11643_check_character,
    normalize_document_input,
    synth,
)
from netid.documents.model import Sex
from netid.documents.regions import is_known_region, known_county_codes

from .strategies import birth_dates, county_codes, nationalities, resident_ids, rngs, sexes
from .support import TODAY

# Everything a normalised number may contain (the validator's charset).
CHARSET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ()"
FEW = settings(max_examples=60, deadline=None)
SOME = settings(max_examples=200, deadline=None)


def _check(number: str) -> object:
    return check_document_number(number, today=TODAY)


# --- synth round trips ---------------------------------------------------------------------------


@SOME
@given(resident_ids())
def test_synth_resident_id_round_trips(case: tuple[str, dt.date, Sex, str]) -> None:
    number, born, sex, region = case
    result = check_document_number(number, today=TODAY)
    assert result.valid, result
    assert result.type is DocumentType.RESIDENT_ID
    assert (result.normalized, result.birth_date, result.sex) == (number, born, sex)
    assert result.region_code == region
    assert result.warnings == ()


@SOME
@given(rngs, st.sampled_from(["HK", "MO", "TW"]), birth_dates, sexes)
def test_synth_residence_permit_round_trips(
    rng: random.Random, region: Literal["HK", "MO", "TW"], born: dt.date, sex: Sex
) -> None:
    number = synth.residence_permit(rng, region=region, birth_date=born, sex=sex)
    result = check_document_number(number, today=TODAY)
    assert result.valid, result
    assert result.type is DocumentType.RESIDENCE_PERMIT
    assert (result.birth_date, result.sex) == (born, sex)
    assert result.region_code == {"HK": "810000", "MO": "820000", "TW": "830000"}[region]


@SOME
@given(rngs, nationalities, birth_dates, sexes)
def test_synth_foreign_pr_2023_round_trips(
    rng: random.Random, nationality: str, born: dt.date, sex: Sex
) -> None:
    number = synth.foreign_pr_2023(rng, nationality_alpha3=nationality, birth_date=born, sex=sex)
    result = check_document_number(number, today=TODAY)
    assert result.valid, result
    assert result.type is DocumentType.FOREIGN_PERMANENT_RESIDENCE
    assert (result.birth_date, result.sex, result.nationality) == (born, sex, nationality)
    assert number[0] == "9"
    assert len(number) == 18


@SOME
@given(rngs, nationalities, st.dates(min_value=dt.date(1900, 1, 1), max_value=TODAY))
def test_synth_foreign_pr_2017_round_trips(
    rng: random.Random, nationality: str, born: dt.date
) -> None:
    number = synth.foreign_pr_2017(rng, nationality_alpha3=nationality, birth_date=born)
    result = check_document_number(number, today=TODAY)
    assert result.valid, result
    assert result.type is DocumentType.FOREIGN_PERMANENT_RESIDENCE
    assert result.nationality == nationality
    assert result.birth_date is None  # century ambiguous: deliberately not reported
    assert len(number) == 15


@SOME
@given(rngs, st.sampled_from(["HK", "MO"]))
def test_synth_travel_permits_and_passport(rng: random.Random, region: Literal["HK", "MO"]) -> None:
    for number, expected in [
        (synth.travel_permit_hkmo(rng, region), DocumentType.TRAVEL_PERMIT_HKMO),
        (synth.travel_permit_tw(rng), DocumentType.TRAVEL_PERMIT_TW),
        (synth.passport(rng), DocumentType.PASSPORT),
    ]:
        result = check_document_number(number, today=TODAY)
        assert result.valid, result
        assert result.type is expected
        assert result.normalized == number
        assert result.warnings == ()


@SOME
@given(rngs)
def test_synth_uscc_valid_and_agrees_with_stdnum(rng: random.Random) -> None:
    code = synth.uscc(rng)
    result = check_uscc(code)
    assert result.valid, result
    assert result.normalized == code
    assert stdnum_uscc.is_valid(code)


def test_synth_is_deterministic() -> None:
    def draw(seed: int) -> list[str]:
        rng = random.Random(seed)
        born = synth.birth_date(rng)
        return [
            synth.resident_id(rng, birth_date=born, sex="F", region_code=synth.county_code(rng)),
            synth.residence_permit(rng, region="TW", birth_date=born, sex="M"),
            synth.foreign_pr_2023(
                rng, nationality_alpha3=synth.nationality_alpha3(rng), birth_date=born, sex="M"
            ),
            synth.foreign_pr_2017(rng, nationality_alpha3="USA", birth_date=born),
            synth.travel_permit_hkmo(rng, "MO"),
            synth.travel_permit_tw(rng),
            synth.passport(rng),
            synth.uscc(rng),
        ]

    assert draw(7) == draw(7)
    assert draw(7) != draw(8)


@pytest.mark.parametrize(
    ("call", "kwargs"),
    [
        (synth.resident_id, {"birth_date": dt.date(1990, 1, 1), "sex": "M", "region_code": "71"}),
        (
            synth.resident_id,
            {"birth_date": dt.date(1990, 1, 1), "sex": "M", "region_code": "710000"},
        ),
        (
            synth.resident_id,
            {"birth_date": dt.date(1990, 1, 1), "sex": "X", "region_code": "110105"},
        ),
        (
            synth.resident_id,
            {"birth_date": dt.date(1850, 1, 1), "sex": "M", "region_code": "110105"},
        ),
        (synth.residence_permit, {"region": "CN", "birth_date": dt.date(1990, 1, 1), "sex": "M"}),
        (
            synth.foreign_pr_2023,
            {"nationality_alpha3": "CHN", "birth_date": dt.date(1990, 1, 1), "sex": "M"},
        ),
        (synth.foreign_pr_2017, {"nationality_alpha3": "ZZZ", "birth_date": dt.date(1990, 1, 1)}),
    ],
)
def test_synth_rejects_impossible_arguments(call: object, kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        call(random.Random(0), **kwargs)  # type: ignore[operator]


def test_known_county_codes_all_validate() -> None:
    codes = known_county_codes()
    assert len(codes) > 5000
    assert codes == tuple(sorted(set(codes)))
    for code in codes:
        first17 = code + "19900101001"
        result = check_document_number(first17 + gb11643_check_character(first17), today=TODAY)
        assert result.valid, code
        assert result.warnings == ()


# --- error detection -----------------------------------------------------------------------------


@FEW
@given(resident_ids())
def test_every_single_substitution_is_rejected(case: tuple[str, dt.date, Sex, str]) -> None:
    number = case[0]
    for i, original in enumerate(number):
        for replacement in CHARSET:
            if replacement == original:
                continue
            mutated = number[:i] + replacement + number[i + 1 :]
            result = check_document_number(mutated, today=TODAY)
            assert not result.valid, (number, i, replacement, result)


@SOME
@given(resident_ids())
def test_every_adjacent_transposition_is_rejected(case: tuple[str, dt.date, Sex, str]) -> None:
    number = case[0]
    for i in range(len(number) - 1):
        if number[i] == number[i + 1]:
            continue
        mutated = number[:i] + number[i + 1] + number[i] + number[i + 2 :]
        result = check_document_number(mutated, today=TODAY)
        assert not result.valid, (number, i, result)


@SOME
@given(resident_ids())
def test_length_17_and_19_are_rejected(case: tuple[str, dt.date, Sex, str]) -> None:
    number = case[0]
    assert check_document_number(number[:-1], today=TODAY).rule == "length"
    assert check_document_number(number + "0", today=TODAY).rule == "length"


# --- normalisation -------------------------------------------------------------------------------


def _fullwidth(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)


@SOME
@given(resident_ids(), st.data())
def test_normalisation_gives_the_same_result(
    case: tuple[str, dt.date, Sex, str], data: st.DataObject
) -> None:
    number = case[0]
    reference = check_document_number(number, today=TODAY)
    mask = data.draw(st.lists(st.booleans(), min_size=18, max_size=18))
    mixed = "".join(_fullwidth(c) if m else c for c, m in zip(number, mask, strict=True)).replace(
        "X", data.draw(st.sampled_from(["x", "X", "ｘ", "Ｘ"]))
    )
    spaces = data.draw(st.lists(st.sampled_from([" ", "\u3000", "\u00a0", "\t"]), max_size=4))
    for space in spaces:
        pos = data.draw(st.integers(min_value=0, max_value=len(mixed)))
        mixed = mixed[:pos] + space + mixed[pos:]
    assert normalize_document_input(mixed) == number
    assert check_document_number(mixed, today=TODAY) == reference
    assert check_document_number(_fullwidth(number), today=TODAY) == reference


# Unicode decimal digits other than ASCII and full-width (Arabic-Indic, Devanagari, ...), by value.
_OTHER_DIGITS: dict[int, list[str]] = {v: [] for v in range(10)}
for _cp in range(0x80, sys.maxunicode + 1):
    _ch = chr(_cp)
    if unicodedata.category(_ch) == "Nd" and not ("０" <= _ch <= "９"):
        _OTHER_DIGITS[unicodedata.digit(_ch)].append(_ch)


@SOME
@given(resident_ids(), st.integers(min_value=0, max_value=16), st.data())
def test_non_ascii_digits_are_rejected(
    case: tuple[str, dt.date, Sex, str], pos: int, data: st.DataObject
) -> None:
    number = case[0]
    digit = data.draw(st.sampled_from(_OTHER_DIGITS[int(number[pos])]))
    mutated = number[:pos] + digit + number[pos + 1 :]
    assert check_document_number(mutated, today=TODAY).rule == "charset"


@SOME
@given(resident_ids())
def test_arabic_indic_digits_are_rejected(case: tuple[str, dt.date, Sex, str]) -> None:
    number = case[0]
    arabic = "".join(chr(0x0660 + int(c)) if c.isdigit() else c for c in number)
    assert check_document_number(arabic, today=TODAY).rule == "charset"


@SOME
@given(st.one_of(st.text(max_size=40), st.from_regex(r"\A[0-9 X]{6,30}\Z")))
def test_never_raises_and_never_echoes(raw: str) -> None:
    result = check_document_number(raw, today=TODAY)
    if not result.valid:
        assert result.rule is not None
        assert result.normalized is None
        assert result.message is not None
        # no run of 6+ digits from the input (the personal data) is echoed in the message
        for run in re.findall(r"[0-9]{6,}", normalize_document_input(raw)):
            assert run not in result.message
    uscc = check_uscc(raw)
    assert uscc.valid or uscc.rule is not None


# --- dates ---------------------------------------------------------------------------------------


def _with_check(first17: str) -> str:
    return first17 + gb11643_check_character(first17)


@SOME
@given(
    county_codes,
    st.dates(min_value=TODAY + dt.timedelta(days=1), max_value=dt.date(9999, 12, 31)),
    st.integers(min_value=0, max_value=999),
)
def test_future_birth_dates_are_rejected(region: str, born: dt.date, seq: int) -> None:
    number = _with_check(region + born.strftime("%Y%m%d") + f"{seq:03d}")
    result = check_document_number(number, today=TODAY)
    assert result.rule == "birth_date"
    permit = _with_check("830000" + born.strftime("%Y%m%d") + f"{seq:03d}")
    assert check_document_number(permit, today=TODAY).rule == "birth_date"


@SOME
@given(
    county_codes,
    st.integers(min_value=BIRTH_DATE_FLOOR.year, max_value=TODAY.year),
    st.integers(min_value=0, max_value=99),
    st.integers(min_value=0, max_value=99),
    st.integers(min_value=0, max_value=999),
)
def test_impossible_birth_dates_are_rejected(
    region: str, year: int, month: int, day: int, seq: int
) -> None:
    try:
        dt.date(year, month, day)
    except ValueError:
        pass
    else:
        assume(False)
    number = _with_check(f"{region}{year:04d}{month:02d}{day:02d}{seq:03d}")
    assert check_document_number(number, today=TODAY).rule == "birth_date"


@SOME
@given(county_codes, st.dates(max_value=BIRTH_DATE_FLOOR - dt.timedelta(days=1)))
def test_birth_dates_before_the_floor_are_rejected(region: str, born: dt.date) -> None:
    assume(born.year >= 1000)
    number = _with_check(region + born.strftime("%Y%m%d") + "001")
    assert check_document_number(number, today=TODAY).rule == "birth_date"


def test_today_is_inclusive() -> None:
    number = _with_check("110105" + TODAY.strftime("%Y%m%d") + "001")
    assert check_document_number(number, today=TODAY).valid
    assert check_document_number(number, today=TODAY - dt.timedelta(days=1)).rule == "birth_date"


# --- differential test against python-stdnum cn.ric ----------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_check_character_matches_stdnum(first17: str) -> None:
    assert gb11643_check_character(first17) == ric.calc_check_digit(first17 + "0")


# Ordinary mainland numbers: a known county code or any 6 digits under 11..65, a date that is
# sometimes impossible, and a check character that is usually right.
_regions = st.one_of(
    county_codes,
    st.from_regex(r"\A(1[1-5]|2[1-3]|3[1-7]|4[1-6]|5[0-4]|6[1-5])[0-9]{4}\Z"),
)
_dates = st.one_of(
    birth_dates.map(lambda d: d.strftime("%Y%m%d")),
    st.from_regex(r"\A(18[6-9][0-9]|19[0-9]{2}|20[01][0-9])[0-1][0-9][0-3][0-9]\Z"),
)


@settings(max_examples=400, deadline=None)
@given(
    _regions, _dates, st.from_regex(r"\A[0-9]{3}\Z"), st.booleans(), st.sampled_from("0123456789X")
)
def test_differential_against_stdnum_ric(
    region: str, yyyymmdd: str, seq: str, right_check: bool, other_check: str
) -> None:
    first17 = region + yyyymmdd + seq
    number = first17 + (gb11643_check_character(first17) if right_check else other_check)
    ours = check_document_number(number, today=TODAY)
    try:
        ric.validate(number)
        theirs: str | None = None
    except stdnum_exceptions.InvalidChecksum:
        theirs = "check_digit"
    except (stdnum_exceptions.ValidationError, KeyError):
        # birth date or birth place (code history). stdnum 2.2 raises KeyError instead of
        # InvalidComponent for an unknown county under a known province (e.g. 110001).
        theirs = "component"

    if theirs == "check_digit":
        assert ours.rule == "check_digit"
    elif theirs is None:
        # stdnum accepted: so do we (both codes and dates here are <= TODAY and >= floor).
        assert ours.valid, ours
    elif ours.valid:
        # Documented differences: stdnum compares the code's validity years with the birth year
        # (we accept a code from ANY period, standards.md 1.1), and stdnum rejects codes its
        # table lacks (we accept them with warning region_unknown, standards.md 1.7).
        born = ours.birth_date
        assert born is not None
        assert ric.get_birth_date(number) == born
        if is_known_region(region):
            assert ours.warnings == ()
        else:
            assert ours.warnings == ("region_unknown",)
    else:
        assert ours.rule in {"birth_date", "region"}
