"""Check-character algorithms used by Chinese document numbers (pure functions).

* ISO 7064:1983 MOD 11-2, as adopted by GB 11643-1999 §5.5 (citizen identity number) and by
  the 2023 foreigner's permanent residence ID number.
* GB 11714-1997 (check-character clause): organisation code check character (USCC
  positions 9-17).
* GB 32100-2015 (check-character clause): unified social credit code check character.
"""

from __future__ import annotations

import operator

# GB 11643-1999 §5.5 (ISO 7064 MOD 11-2): W_i = 2^(18-i) mod 11 for i = 1..17.
GB11643_WEIGHTS: tuple[int, ...] = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
# GB 11643-1999 §5.5: Y = (Σ a_i·W_i) mod 11 maps to the check character "10X98765432"[Y].
_GB11643_MAP = "10X98765432"

# GB 32100-2015 (code structure): the 31-character code alphabet (no I, O, S, V, Z); index = value.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {c: i for i, c in enumerate(USCC_ALPHABET)}
# GB 32100-2015 (check character): W_i = 3^(i-1) mod 31 for i = 1..17.
USCC_WEIGHTS: tuple[int, ...] = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

# GB 11714-1997 (check character): weights for the 8-character body of an organisation code.
GB11714_WEIGHTS: tuple[int, ...] = (3, 7, 9, 10, 5, 8, 4, 2)
_DIGITS = frozenset("0123456789")


def _is_ascii_digits(s: str) -> bool:
    return s.isascii() and s.isdigit()  # isdigit alone admits "²" and Arabic-Indic digits


def gb11643_check_character(first17: str) -> str:
    """Return the MOD 11-2 check character for the first 17 digits of an ID number.

    GB 11643-1999 §5.5 / ISO 7064:1983 MOD 11-2. Raises :class:`ValueError` unless ``first17``
    is exactly 17 ASCII digits.
    """
    if len(first17) != 17 or not _is_ascii_digits(first17):
        raise ValueError("expected exactly 17 ASCII digits")
    # map/mul instead of a generator: this runs for every number of a bulk import.
    total = sum(map(operator.mul, map(int, first17), GB11643_WEIGHTS))
    return _GB11643_MAP[total % 11]


def uscc_check_character(first17: str) -> str:
    """Return the GB 32100-2015 check character for the first 17 characters of a USCC.

    check = 31 - (Σ value_i·W_i mod 31), with 31 written as ``0``. Raises :class:`ValueError`
    on a wrong length or a character outside the code alphabet.
    """
    if len(first17) != 17 or any(c not in _USCC_VALUE for c in first17):
        raise ValueError("expected 17 characters of the USCC alphabet")
    total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def _gb11714_value(c: str) -> int:
    # GB 11714-1997: digits keep their value, A..Z are 10..35.
    if c in _DIGITS:
        return ord(c) - ord("0")
    if "A" <= c <= "Z":
        return ord(c) - ord("A") + 10
    raise ValueError("organisation code characters are ASCII digits or upper-case letters")


def gb11714_check_character(body8: str) -> str:
    """Return the GB 11714-1997 check character for an 8-character organisation-code body.

    C9 = 11 - (Σ C_i·W_i mod 11); 10 is written ``X`` and 11 is written ``0``.
    """
    if len(body8) != 8:
        raise ValueError("expected 8 characters")
    total = sum(_gb11714_value(c) * w for c, w in zip(body8, GB11714_WEIGHTS, strict=True))
    c9 = 11 - total % 11
    if c9 == 10:
        return "X"
    if c9 == 11:
        return "0"
    return str(c9)
