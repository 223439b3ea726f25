"""Institution codes (机构编码): ``NI`` + 2-digit year of approval + 15 random digits + a check
character (pure functions).

The check character is ISO 7064:1983 MOD 11-2 over the 17 digits after ``NI`` — the same
algorithm as GB 11643-1999 §5.5, so it catches every single-digit error and every transposition
of adjacent digits, and can be ``X``. 15 random digits (≈ 2^50) make a collision between two
approvals negligible; the unique constraint on ``institution.code`` backs that up.

Example: ``NI26`` + ``000000000000001`` → check over ``26000000000000001``.
"""

from __future__ import annotations

import re
import secrets

from netid.documents.checksums import gb11643_check_character

PREFIX = "NI"
RANDOM_DIGITS = 15
CODE_LENGTH = len(PREFIX) + 2 + RANDOM_DIGITS + 1  # 20
_CODE_RE = re.compile(r"NI[0-9]{17}[0-9X]\Z")


def institution_code_check(body17: str) -> str:
    """The MOD 11-2 check character for the 17 digits after ``NI``."""
    return gb11643_check_character(body17)


def make_institution_code(year: int, random_digits: str) -> str:
    """``NI`` + ``YY`` + ``random_digits`` (15 ASCII digits) + check character."""
    if year < 0:
        raise ValueError("the year must not be negative")
    if len(random_digits) != RANDOM_DIGITS or not (
        random_digits.isascii() and random_digits.isdigit()
    ):
        raise ValueError("expected 15 ASCII digits")
    body = f"{year % 100:02d}{random_digits}"
    return PREFIX + body + institution_code_check(body)


def new_institution_code(year: int) -> str:
    digits = "".join(secrets.choice("0123456789") for _ in range(RANDOM_DIGITS))
    return make_institution_code(year, digits)


def institution_code_valid(code: str) -> bool:
    """Whether ``code`` has the institution-code format and a matching check character.

    Exact match only: no case folding or space removal (codes are machine-issued)."""
    if not isinstance(code, str) or not _CODE_RE.match(code):
        return False
    return institution_code_check(code[2:19]) == code[19]
