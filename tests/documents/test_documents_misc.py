"""Regions table, normalisation, checksums and the import boundary."""

from __future__ import annotations

import subprocess
import sys

import pytest

from netid.documents import (
    check_document_number,
    check_uscc,
    gb11643_check_character,
    normalize_document_input,
)
from netid.documents.checksums import gb11714_check_character, uscc_check_character
from netid.documents.regions import (
    is_known_region,
    issues_resident_ids,
    known_county_codes,
    province_exists,
)


def test_regions() -> None:
    assert is_known_region("110105")
    assert is_known_region("110103")  # abolished 2010, still known
    assert is_known_region("440524")  # 1983-1993 only, still known
    assert not is_known_region("119999")
    assert not is_known_region("830000")  # permit prefix, not GB/T 2260
    assert not is_known_region("11010")
    assert not is_known_region("１１０１０５")
    assert province_exists("11")
    assert province_exists("71")
    assert province_exists("110105")
    assert not province_exists("10")
    assert not province_exists("83")
    assert issues_resident_ids("65")
    assert not issues_resident_ids("71")
    assert not issues_resident_ids("810000")
    codes = known_county_codes()
    assert "110105" in codes
    assert "110103" in codes
    assert not any(c[:2] in {"71", "81", "82"} or c.endswith("00") for c in codes)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  11010519491231002x ", "11010519491231002X"),
        ("１１０１０５１９４９１２３１００２ｘ", "11010519491231002X"),
        ("110105\u300019491231\u00a0002X\t\r\n", "11010519491231002X"),
        ("e12345678", "E12345678"),
        ("1234567890（ｂ）", "1234567890(B)"),
        ("110105-1949", "110105-1949"),  # hyphens kept: rejected later as charset
        ("ＩＯ", "IO"),  # never guessed into digits
        ("²①Ⅻ", "²①Ⅻ"),  # NFKC is not applied outside the full-width block
        ("٣ß", "٣ß"),  # non-ASCII left alone (no 'SS')
        ("", ""),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize_document_input(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["11010519491231002\ud800", "\x0011010519491231002X", "11010519491231002X\x1b[0m", "\u202e110"],
)
def test_surrogates_and_controls_are_charset_errors(raw: str) -> None:
    result = check_document_number(raw)
    assert result.rule == "charset"
    assert check_uscc(raw).rule == "charset"


def test_check_characters() -> None:
    assert gb11643_check_character("11010519491231002") == "X"
    assert gb11643_check_character("44052418800101001") == "4"
    for bad in ["1101051949123100", "1101051949123100X", "١١٠١٠٥١٩٤٩١٢٣١٠٠٢"]:
        with pytest.raises(ValueError):
            gb11643_check_character(bad)
    assert uscc_check_character("91350100M000100Y4") == "3"
    assert gb11714_check_character("60003734") == "1"
    assert gb11714_check_character("M000100Y") == "4"
    with pytest.raises(ValueError):
        uscc_check_character("91350100M000100I4")


def test_no_forbidden_imports() -> None:
    code = (
        "import sys, netid.documents, netid.documents.synth, netid.documents.regions;"
        "netid.documents.check_document_number('11010519491231002X');"
        "bad = [m for m in ('sqlalchemy', 'fastapi', 'starlette', 'typer', 'rich', "
        "'netid.config', 'netid.db', 'psycopg', 'uvicorn') if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""
