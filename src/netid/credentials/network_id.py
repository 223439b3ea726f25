"""The network ID (网号): 15 random characters of ``0-9A-Z`` and one ISO/IEC 7064 check character.

ISO/IEC 7064:2003 MOD 37-36 is the alphanumeric *hybrid* system (M = 36, M + 1 = 37): the
check character comes from the same 36-character alphabet, so the ID stays in ``0-9A-Z``. The
hybrid systems detect every single-character substitution (ISO/IEC 7064 §5.3); see the tests for
what they catch of adjacent transpositions. 15 characters of 36 are log2(36^15) ≈ 77.5 bits.
"""

from __future__ import annotations

import re
import secrets
from typing import Final

from netid.credentials.errors import NetworkIdInvalid

ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
BODY_LENGTH: Final = 15
LENGTH: Final = BODY_LENGTH + 1
_M: Final = 36
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_GROUPED = re.compile(r"^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}\Z")
_PLAIN = re.compile(r"^[0-9A-Z]{16}\Z")


def _product(chars: str) -> int:
    """ISO/IEC 7064 hybrid recursion: P_1 = M; S_j = (P_j + a_j) mod M (0 read as M);
    P_{j+1} = 2 S_j mod (M + 1). Returns the product P after the last character."""
    p = _M
    for char in chars:
        s = (p + _VALUE[char]) % _M or _M
        p = (2 * s) % (_M + 1)
    return p


def check_character(body: str) -> str:
    """The MOD 37-36 check character of ``body`` (characters of ``0-9A-Z``).

    It is the character a with (P + a) mod 36 = 1, P being the product after ``body``.
    """
    if not body or any(c not in _VALUE for c in body):
        raise ValueError("the body must be characters of 0-9A-Z")
    return ALPHABET[(1 - _product(body)) % _M]


def new_network_id() -> str:
    """A fresh network ID: 15 characters from ``secrets`` and the check character."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LENGTH))
    return body + check_character(body)


def is_valid_network_id(text: str) -> bool:
    """Whether ``text`` is exactly a canonical 16-character network ID with a good check."""
    if not isinstance(text, str) or not _PLAIN.match(text):
        return False
    return check_character(text[:BODY_LENGTH]) == text[BODY_LENGTH]


def normalize_network_id(text: str) -> str:
    """The canonical 16-character form of a network ID typed by a person.

    Accepts ``XXXXXXXXXXXXXXXX`` or ``XXXX-XXXX-XXXX-XXXX``, in any case, with surrounding
    spaces; raises :class:`NetworkIdInvalid` for anything else or a wrong check character.
    """
    if not isinstance(text, str):
        raise NetworkIdInvalid()
    candidate = text.strip().upper()
    if _GROUPED.match(candidate):
        candidate = candidate.replace("-", "")
    if not is_valid_network_id(candidate):
        raise NetworkIdInvalid()
    return candidate


def format_network_id(nid: str) -> str:
    """Display form, in groups of four: ``XXXX-XXXX-XXXX-XXXX``."""
    canonical = normalize_network_id(nid)
    return "-".join(canonical[i : i + 4] for i in range(0, LENGTH, 4))
