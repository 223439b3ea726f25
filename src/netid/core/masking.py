"""The one masking pattern for identifiers shown to people, exports and logs (SEC-41).

Two different masks of the same number reveal the union of what each shows ("mosaic"), so every
endpoint, export, log line and CLI output masks through these functions and nothing else. Each
function is deterministic, keeps the length in code points (one ``*`` per hidden code point) and
never shows more than documented here:

``mask_document_number`` (pass the normalised number; this module does not parse numbers)
    * 18 characters (resident ID, residence permit, 2023 foreigner's card): the first 6 and the
      last 4 are shown, characters 7-14 -- the birth date in every 18-character format -- never
      are: ``11010519491231002X`` → ``110105********002X``.
    * 8-17 or more than 18 characters: at most 1-2 leading and 2-3 trailing characters, and
      always at least half hidden: 8-9 → 1 + 2, 10-11 → 1 + 3, 12-14 → 2 + 3, 15-17 and 19+ →
      2 + 2. For the 15-character formats this hides the birth date too (first-generation
      resident IDs: positions 7-12; 2004/2017 foreigner's cards: positions 8-13).
    * fewer than 8 characters: everything hidden.
``mask_name``
    the first code point (never a UTF-16 unit, so a supplementary-plane character is never
    split) and one ``*`` per further code point; a one-code-point name is ``*``. The same rule
    for every name: ``阿依古丽·买买提`` → ``阿*******`` (the separator is hidden too).
``mask_phone``
    mainland mobiles (E.164 ``+861`` + 10 digits, or the 11 national digits) show the first 3
    and the last 4 national digits: ``+8613812345678`` → ``+86138****5678``; anything else shows
    at most the first 3 and last 2 characters and hides at least half.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["MASK_CHAR", "mask_document_number", "mask_name", "mask_phone"]

MASK_CHAR: Final = "*"

_MAINLAND_E164: Final = re.compile(r"\+861[0-9]{10}")
_MAINLAND_NATIONAL: Final = re.compile(r"1[0-9]{10}")


def _keep(value: str, head: int, tail: int) -> str:
    n = len(value)
    if head + tail >= n:
        return MASK_CHAR * n
    return value[:head] + MASK_CHAR * (n - head - tail) + value[n - tail :]


def _document_visible(n: int) -> tuple[int, int]:
    """(leading, trailing) characters shown for a document number of ``n`` characters."""
    if n == 18:
        return 6, 4
    if n < 8:
        return 0, 0
    if n < 10:
        return 1, 2
    if n < 12:
        return 1, 3
    if n < 15:
        return 2, 3
    return 2, 2


def mask_document_number(number: str) -> str:
    """Mask a document number; see the module docstring for what is shown."""
    head, tail = _document_visible(len(number))
    return _keep(number, head, tail)


def mask_name(name: str) -> str:
    """First code point, then one ``*`` per remaining code point (``*`` for a 1-character name)."""
    if len(name) <= 1:
        return MASK_CHAR * len(name)
    return name[0] + MASK_CHAR * (len(name) - 1)


def mask_phone(phone: str) -> str:
    """Mask a phone number; mainland mobiles keep 3 + 4 national digits."""
    if _MAINLAND_E164.fullmatch(phone):
        return phone[:6] + MASK_CHAR * 4 + phone[10:]
    if _MAINLAND_NATIONAL.fullmatch(phone):
        return phone[:3] + MASK_CHAR * 4 + phone[7:]
    n = len(phone)
    return _keep(phone, min(3, n // 4), min(2, n // 4))
