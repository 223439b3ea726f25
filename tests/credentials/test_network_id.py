"""ISO/IEC 7064 MOD 37-36 network IDs: known answers (python-stdnum as the oracle), error detection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from stdnum.iso7064 import mod_37_36

from netid.credentials.errors import NetworkIdInvalid
from netid.credentials.network_id import (
    ALPHABET,
    check_character,
    format_network_id,
    is_valid_network_id,
    new_network_id,
    normalize_network_id,
)

VECTORS = json.loads((Path(__file__).parent / "vectors" / "network_id.json").read_text("utf-8"))


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["body"])
def test_known_answers(vector: dict[str, str]) -> None:
    assert check_character(vector["body"]) == vector["check"]
    assert is_valid_network_id(vector["network_id"])
    # The oracle still agrees with the file (a changed oracle would be noticed too).
    assert mod_37_36.calc_check_digit(vector["body"]) == vector["check"]
    assert mod_37_36.is_valid(vector["network_id"])


def test_docstring_vector_of_other_length() -> None:
    for item in VECTORS["also"]:
        assert check_character(item["body"]) == item["check"]


def test_fresh_ids_are_valid_and_agree_with_the_oracle() -> None:
    seen = set()
    for _ in range(500):
        nid = new_network_id()
        assert len(nid) == 16
        assert set(nid) <= set(ALPHABET)
        assert is_valid_network_id(nid)
        assert mod_37_36.is_valid(nid)
        seen.add(nid)
    assert len(seen) == 500


def test_every_single_substitution_is_detected() -> None:
    for vector in VECTORS["vectors"]:
        nid = vector["network_id"]
        for i, original in enumerate(nid):
            for replacement in ALPHABET:
                if replacement != original:
                    assert not is_valid_network_id(nid[:i] + replacement + nid[i + 1 :])


def test_adjacent_transpositions_are_detected_almost_always() -> None:
    # A hybrid system (ISO/IEC 7064 §5.3) does not catch every adjacent transposition; measure
    # what it catches over the vectors and every transposition of two different characters.
    missed = total = 0
    for vector in VECTORS["vectors"]:
        nid = vector["network_id"]
        for i in range(len(nid) - 1):
            if nid[i] == nid[i + 1]:
                continue
            swapped = nid[:i] + nid[i + 1] + nid[i] + nid[i + 2 :]
            total += 1
            missed += is_valid_network_id(swapped)
            assert is_valid_network_id(swapped) == mod_37_36.is_valid(swapped)
    assert total > 400
    assert missed / total < 0.01


def test_normalize_accepts_grouped_and_lower_case() -> None:
    nid = VECTORS["vectors"][5]["network_id"]
    grouped = format_network_id(nid)
    assert grouped == f"{nid[:4]}-{nid[4:8]}-{nid[8:12]}-{nid[12:]}"
    assert normalize_network_id(grouped) == nid
    assert normalize_network_id(grouped.lower()) == nid
    assert normalize_network_id(f"  {nid.lower()} ") == nid


@pytest.mark.parametrize(
    "text",
    [
        "",
        "ABC",
        "0000-0000-0000-000N0",
        "000000000000000M",
        "0000-000000000000N",
        "0000_0000_0000_000N",
        "000000000000000N0",
        "ÀAAA-AAAA-AAAA-AAAA",
        "0000-0000-0000-000n-",
    ],
)
def test_normalize_refuses(text: str) -> None:
    with pytest.raises(NetworkIdInvalid):
        normalize_network_id(text)
    assert not is_valid_network_id(text)


def test_is_valid_is_strict_about_the_canonical_form() -> None:
    nid = VECTORS["vectors"][0]["network_id"]
    assert is_valid_network_id(nid)
    assert not is_valid_network_id(nid.lower())
    assert not is_valid_network_id(format_network_id(nid))


def test_check_character_refuses_other_characters() -> None:
    with pytest.raises(ValueError):
        check_character("abc")
    with pytest.raises(ValueError):
        check_character("")
