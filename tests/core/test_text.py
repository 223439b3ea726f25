"""Names: validation keeps code points exactly; the matching key is a separate, documented form."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netid.core.errors import InvalidInput
from netid.core.text import (
    MAX_NAME_LENGTH,
    MIDDLE_DOT,
    MIDDLE_DOT_LOOKALIKES,
    NAME_RULES,
    InvalidName,
    name_matching_key,
    names_match,
    validate_name,
)

CORPUS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "names.json").read_text(encoding="utf-8")
)
VALID: list[str] = [entry["name"] for entry in CORPUS["valid"]]
INVALID: list[tuple[str, str]] = [(entry["name"], entry["rule"]) for entry in CORPUS["invalid"]]
EQUIVALENT: list[tuple[str, str]] = [(a, b) for a, b in CORPUS["equivalent"]]
DISTINCT: list[tuple[str, str]] = [(a, b) for a, b in CORPUS["distinct"]]


def _is_compat(c: str) -> bool:
    return 0xF900 <= ord(c) <= 0xFAFF or 0x2F800 <= ord(c) <= 0x2FA1F


# --- the corpus itself meets reference/security.md §6 item 3 -------------------------------


def test_corpus_size_and_coverage() -> None:
    assert len(VALID) >= 200
    assert len(set(VALID)) == len(VALID)
    lookalike_dots = MIDDLE_DOT_LOOKALIKES - {MIDDLE_DOT}
    with_lookalike = [n for n in VALID if set(n) & (lookalike_dots | set(".\u3002\uff0e\uff61"))]
    assert len(with_lookalike) >= 50
    assert sum(any(ord(c) > 0xFFFF for c in n) for n in VALID) >= 50
    assert sum(any(_is_compat(c) for c in n) for n in VALID) >= 20
    unicode15 = [n for n in VALID if any(0x2EBF0 <= ord(c) <= 0x323AF for c in n)]
    assert len(unicode15) >= 10
    # every look-alike appears in some valid name, and each has an equivalence vector
    for dot in lookalike_dots:
        assert any(dot in n for n in VALID), f"U+{ord(dot):04X}"
        assert any(dot in a for a, _b in EQUIVALENT), f"U+{ord(dot):04X}"
    assert any(len(n) == 50 for n in VALID)
    assert any(len(n) == MAX_NAME_LENGTH for n in VALID)
    assert {rule for _n, rule in INVALID} == set(NAME_RULES)


def test_specific_vectors_present() -> None:
    joined = "".join(VALID)
    for cp in (0x20BB7, 0x2B5AF, 0x2C317, 0x31350, 0xF900, 0xFA0E, 0x00B7):
        assert chr(cp) in joined, f"U+{cp:X}"
    assert "阿依古丽·买买提" in VALID
    assert "赵孟\U0002b5af" in VALID
    assert "John Smith" in VALID
    assert "José Müller" in VALID
    assert unicodedata.normalize("NFD", "José Müller") in VALID


# --- validate_name ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", VALID)
def test_valid_names_pass_unchanged(name: str) -> None:
    out = validate_name(name)
    assert out is name
    assert out.encode("utf-8") == name.encode("utf-8")


@pytest.mark.parametrize(("name", "rule"), INVALID)
def test_invalid_names_rejected_with_rule(name: str, rule: str) -> None:
    with pytest.raises(InvalidName) as info:
        validate_name(name)
    assert info.value.rule == rule
    assert info.value.details == {"rule": rule}
    assert isinstance(info.value, InvalidInput)
    assert info.value.code == "invalid_name"


@pytest.mark.parametrize(("name", "_rule"), INVALID)
def test_error_messages_never_contain_the_name(name: str, _rule: str) -> None:
    with pytest.raises(InvalidName) as info:
        validate_name(name)
    text = str(info.value) + json.dumps(info.value.to_dict(), ensure_ascii=False)
    # nothing outside printable ASCII, so no character of any (Han) name can leak
    assert text.isascii()
    assert all(c.isprintable() for c in text)


def test_supplementary_and_unicode15_are_accepted_despite_cn() -> None:
    ext_h = "\U00031350"
    assert unicodedata.category(ext_h) == "Cn"  # unicodedata 14.0 in Python 3.11
    assert validate_name("李" + ext_h) == "李" + ext_h
    assert validate_name("\U00020bb7") == "\U00020bb7"


def test_length_counts_code_points_not_utf16_or_bytes() -> None:
    name = "\U00020bb7" * MAX_NAME_LENGTH
    assert len(name.encode("utf-16-le")) == 4 * MAX_NAME_LENGTH
    assert validate_name(name) == name
    with pytest.raises(InvalidName) as info:
        validate_name(name + "\U00020bb7")
    assert info.value.rule == "too_long"


def test_every_noncharacter_and_plane_end_rejected() -> None:
    for plane in range(17):
        for low in (0xFFFE, 0xFFFF):
            with pytest.raises(InvalidName) as info:
                validate_name("张" + chr(plane << 16 | low))
            assert info.value.rule == "noncharacter"
    for cp in range(0xFDD0, 0xFDF0):
        with pytest.raises(InvalidName):
            validate_name(chr(cp))


def test_variation_selectors_accepted() -> None:
    for vs in ("\ufe00", "\ufe0f", "\U000e0100", "\U000e01ef", "\u180b"):
        assert validate_name("葛" + vs) == "葛" + vs


def test_first_offending_code_point_decides() -> None:
    with pytest.raises(InvalidName) as info:
        validate_name("张\u202e\x00伟")
    assert info.value.rule == "bidi"


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet=st.characters(codec=None), max_size=120))
def test_validate_never_raises_other_errors_and_never_changes(name: str) -> None:
    rule: str | None = None
    try:
        out = validate_name(name)
    except InvalidName as exc:
        rule = exc.rule
    if rule is not None:
        assert rule in NAME_RULES
    else:
        assert out == name and out is name
        out.encode("utf-8")  # accepted names always encode (no surrogates)
        assert 1 <= len(out) <= MAX_NAME_LENGTH


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0x10000), min_size=1, max_size=100))
def test_supplementary_text_judged_without_category(name: str) -> None:
    # only private use, noncharacters and the tag block are rejected outside the BMP
    rule = "accepted"
    try:
        validate_name(name)
    except InvalidName as exc:
        rule = exc.rule
    assert rule in {"accepted", "private_use", "noncharacter", "zero_width"}


# --- matching key -----------------------------------------------------------------------------


@pytest.mark.parametrize(("variant", "canonical"), EQUIVALENT)
def test_equivalent_variants_share_the_key(variant: str, canonical: str) -> None:
    assert name_matching_key(variant) == name_matching_key(canonical)
    assert names_match(variant, canonical)
    assert names_match(canonical, variant)


@pytest.mark.parametrize(("a", "b"), DISTINCT)
def test_distinct_names_do_not_match(a: str, b: str) -> None:
    assert not names_match(a, b)


@pytest.mark.parametrize("dot", sorted(MIDDLE_DOT_LOOKALIKES))
def test_each_lookalike_maps_to_middle_dot(dot: str) -> None:
    assert name_matching_key(f"阿依古丽{dot}买买提") == "阿依古丽·买买提"
    assert name_matching_key(f"{dot}") == MIDDLE_DOT


def test_key_examples() -> None:
    assert name_matching_key("\uf900") == "\u8c48"  # NFC in the key (never in storage)
    assert name_matching_key("\ufa0e") == "\ufa0e"  # unified ideograph: unchanged
    assert name_matching_key("  Ｊｏｈｎ\u3000\tＳＭＩＴＨ ") == "john smith"
    assert name_matching_key("阿依古丽 . 买买提") == "阿依古丽·买买提"
    assert name_matching_key("阿依古丽。买买提") == "阿依古丽·买买提"
    assert name_matching_key("张伟。") == "张伟。"  # trailing full stop is not a separator
    assert name_matching_key(".张伟") == ".张伟"
    assert name_matching_key("张..伟") == "张..伟"  # doubled stops: not a separator
    assert name_matching_key("葛\U000e0100优") == "葛优"
    assert name_matching_key("Straße") == "strasse"
    assert MIDDLE_DOT == "\u00b7"


def test_key_does_not_rely_on_nfkc_for_halfwidth_dot() -> None:
    # NFKC maps U+FF65 to U+30FB, not U+00B7: the key must still reach U+00B7
    assert unicodedata.normalize("NFKC", "\uff65") == "\u30fb"
    assert name_matching_key("a\uff65b") == "a·b"


def test_storage_is_not_normalised() -> None:
    registered = "\uf9e1明"
    assert validate_name(registered) == registered
    assert validate_name(registered) != unicodedata.normalize("NFC", registered)
    assert names_match(registered, "李明")


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet=st.characters(codec=None), max_size=60))
def test_matching_key_idempotent(name: str) -> None:
    key = name_matching_key(name)
    assert name_matching_key(key) == key
    assert names_match(name, key)


_NAMEISH = st.text(
    alphabet=st.sampled_from(
        list("张伟阿依古丽买买提JohnSmithÉéüß .。．｡\u3000\t\u0301\u0308\uf900\ufa0e\U00020bb7")
        + sorted(MIDDLE_DOT_LOOKALIKES)
        + ["\ufe00", "\U000e0100", "Ｊ", "ｏ"]
    ),
    max_size=30,
)


@settings(max_examples=3000, deadline=None)
@given(_NAMEISH)
def test_matching_key_idempotent_on_name_like_text(name: str) -> None:
    key = name_matching_key(name)
    assert name_matching_key(key) == key
    assert key == key.strip()
    assert "  " not in key
    assert not (set(key) & (MIDDLE_DOT_LOOKALIKES - {MIDDLE_DOT}))


@given(_NAMEISH, st.sampled_from(sorted(MIDDLE_DOT_LOOKALIKES)))
def test_any_lookalike_separator_matches_middle_dot(part: str, dot: str) -> None:
    a = "阿依古丽" + dot + "买买提" + part
    b = "阿依古丽" + MIDDLE_DOT + "买买提" + part
    assert names_match(a, b)


def test_names_match_total_on_unvalidated_input() -> None:
    assert names_match("\ud842", "\ud842")
    assert not names_match("\ud842", "\udfb7")
