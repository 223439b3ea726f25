from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from netid.institutions.codes import (
    CODE_LENGTH,
    institution_code_valid,
    make_institution_code,
    new_institution_code,
)

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "institution_codes.json").read_text(encoding="utf-8")
)


@pytest.mark.parametrize("case", VECTORS["make"], ids=lambda c: c["code"])
def test_known_codes(case: dict[str, Any]) -> None:
    assert make_institution_code(case["year"], case["random"]) == case["code"]
    assert institution_code_valid(case["code"])


@pytest.mark.parametrize("case", VECTORS["invalid"], ids=lambda c: c["why"])
def test_invalid_codes(case: dict[str, Any]) -> None:
    assert not institution_code_valid(case["code"])


def test_every_single_digit_error_is_caught() -> None:
    code = make_institution_code(2026, "314159265358979")
    for pos in range(2, CODE_LENGTH - 1):
        for digit in "0123456789":
            if digit != code[pos]:
                assert not institution_code_valid(code[:pos] + digit + code[pos + 1 :])


def test_new_codes_are_valid_and_random() -> None:
    codes = {new_institution_code(2026) for _ in range(200)}
    assert len(codes) == 200
    assert all(institution_code_valid(c) and c.startswith("NI26") for c in codes)


@pytest.mark.parametrize("digits", ["1234", "12345678901234a", "１２３４５６７８９０１２３４５"])
def test_make_refuses_bad_digits(digits: str) -> None:
    with pytest.raises(ValueError):
        make_institution_code(2026, digits)
