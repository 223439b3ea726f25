"""Input canonicalisation for document numbers (the "ID-canonicalise" function).

What :func:`normalize_document_input` does, and nothing more (it never guesses):

* removes space characters as people type or paste them: every Unicode space separator
  (category ``Zs``: ASCII space, NO-BREAK SPACE, IDEOGRAPHIC SPACE U+3000, ...) and the ASCII
  controls TAB, LF, CR;
* maps the full-width forms U+FF01..U+FF5E to their ASCII counterparts (this is exactly what
  NFKC does to that block; NFKC is *not* applied to anything else, so ``²``, ``①``, ``Ⅻ`` or
  ligatures stay as they are and are later rejected as ``charset``);
* upper-cases ASCII letters (``x`` → ``X``); non-ASCII letters are left alone.

Decisions: hyphens (ASCII or full-width) are **kept** and therefore rejected later as
``charset``: no supported document contains one, and silently dropping them would accept text
pasted from other fields. Look-alikes are never corrected (no ``O`` → ``0``, no ``I`` → ``1``),
and non-ASCII digits (Arabic-Indic ``٣``, Devanagari, ...) are left in place so that the
validator rejects them.
"""

from __future__ import annotations

import unicodedata

_FULLWIDTH_FIRST = 0xFF01  # FULLWIDTH EXCLAMATION MARK
_FULLWIDTH_LAST = 0xFF5E  # FULLWIDTH TILDE
_FULLWIDTH_OFFSET = 0xFF01 - 0x21
_EXTRA_SPACES = frozenset("\t\n\r")


def _is_space(ch: str) -> bool:
    return ch in _EXTRA_SPACES or unicodedata.category(ch) == "Zs"


def normalize_document_input(raw: str) -> str:
    """Canonicalise a typed or pasted document number; see the module docstring for the rules."""
    if raw.isascii() and raw.isalnum():
        return raw.upper()  # the common case (bulk import, API clients): nothing to remove
    out: list[str] = []
    for ch in raw:
        if _is_space(ch):
            continue
        cp = ord(ch)
        if _FULLWIDTH_FIRST <= cp <= _FULLWIDTH_LAST:
            ch = chr(cp - _FULLWIDTH_OFFSET)
        if "a" <= ch <= "z":
            ch = chr(ord(ch) - 32)
        out.append(ch)
    return "".join(out)
