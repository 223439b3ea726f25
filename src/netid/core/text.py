"""Personal names: validation (never normalisation) and a separate matching key.

Storage rule (reference/security.md §3.4): a name is stored **exactly as registered**, code point
for code point. :func:`validate_name` either returns its argument unchanged or raises
:class:`InvalidName`; it never rewrites anything. Comparison and look-up use
:func:`name_matching_key`, a documented canonical form that is never stored in place of the
name (it may be stored *beside* it, e.g. blind-indexed).

What :func:`validate_name` accepts
    Any Unicode scalar value that is not in one of the rejected classes below, up to
    :data:`MAX_NAME_LENGTH` code points. This deliberately includes the supplementary planes
    (CJK Ext B..I, e.g. 𠮷 U+20BB7, 𫖯 U+2B5AF, U+2C317), CJK compatibility ideographs
    (U+F900..U+FAFF, U+2F800..U+2FA1F), the separator U+00B7 (民委发〔2016〕33号), Latin letters,
    spaces and combining marks of foreign names, and code points that Python 3.11's Unicode 14.0
    tables call unassigned (``Cn``) -- CJK Ext H (U+31350..U+323AF, Unicode 15.0) and Ext I
    (U+2EBF0.., Unicode 15.1) are real ideographs that GB 18030-2022 systems must carry. So
    nothing here asks ``unicodedata`` for a category: the rejected classes are explicit ranges.

Rejected classes (``InvalidName.rule``; the first offending code point decides):

``empty``
    no code points, or only whitespace.
``too_long``
    more than :data:`MAX_NAME_LENGTH` (100) code points. 民委发〔2016〕33号 requires room for at
    least 50 characters; the limit counts code points, never UTF-16 units or bytes.
``control``
    C0 (U+0000..U+001F), DEL and C1 (U+007F..U+009F), LINE/PARAGRAPH SEPARATOR (U+2028/2029).
``bidi``
    bidirectional formatting: U+061C, U+200E/200F, U+202A..U+202E, U+2066..U+2069.
``zero_width``
    invisible default-ignorable characters: U+200B..U+200D, U+2060..U+2064, U+FEFF, and also
    SOFT HYPHEN U+00AD, COMBINING GRAPHEME JOINER U+034F, the Hangul fillers (U+115F, U+1160,
    U+3164, U+FFA0), U+17B4/17B5, MONGOLIAN VOWEL SEPARATOR U+180E, the deprecated format
    characters U+206A..U+206F, U+1BCA0..U+1BCA3, U+1D173..U+1D17A and the tag block
    U+E0000..U+E00FF / U+E01F0..U+E0FFF. *Decision:* variation selectors (U+FE00..U+FE0F,
    U+E0100..U+E01EF, Mongolian U+180B..U+180D/U+180F) are default-ignorable too but are
    **accepted**: ideographic variation sequences are how a registry pins a registered glyph.
``surrogate``
    any code point U+D800..U+DFFF (in a ``str`` these are always lone: they cannot be encoded
    as UTF-8 and would fail later, e.g. in sqlite3 or an HMAC).
``private_use``
    U+E000..U+F8FF, U+F0000..U+FFFFD, U+100000..U+10FFFD. Legacy GB 18030-2000/2005 data put some
    characters in the PUA; migrating such data needs a remap table, not silent acceptance.
``noncharacter``
    U+FDD0..U+FDEF and the last two code points of every plane (U+FFFE, U+FFFF, ..., U+10FFFF).

Error messages never contain any part of the name.

The matching key (:func:`name_matching_key`), in this order:

1. remove variation selectors (they choose a glyph, not a character);
2. NFC. This is right for the *key* and wrong for *storage*: it maps CJK compatibility
   ideographs to their unified ideographs (U+F900 → U+8C48, U+2F800 → U+4E3D), so a name typed
   with the unified character matches the registered compatibility form; the twelve unified
   ideographs inside the compatibility block (e.g. U+FA0E) are unchanged by NFC. It also
   composes NFD Latin (``José`` typed as ``e`` + U+0301) and maps U+0387 to U+00B7;
3. width folding: full-width ASCII U+FF01..U+FF5E → U+0021..U+007E and IDEOGRAPHIC SPACE
   U+3000 → space. NFKC is *not* applied (it would map U+FF65 to U+30FB, not U+00B7, and
   rewrite many other characters);
4. ``str.casefold`` (Latin, Greek, Cyrillic case; CJK is unaffected), then NFC again so the key
   stays composed;
5. middle-dot look-alikes → U+00B7, from an explicit allow-list (:data:`MIDDLE_DOT_LOOKALIKES`):
   U+00B7, U+0387, U+2022, U+2024, U+2027, U+2219, U+22C5, U+2E31, U+30FB, U+FF65, U+A78F;
6. full stops ``.`` (also full-width ``．`` after step 3), ``。`` U+3002 and ``｡`` U+FF61 →
   U+00B7 **only as a separator**, i.e. with a non-space, non-dot character on both sides
   (spaces in between allowed). *Decision:* between two name parts a full stop can only be a
   mistyped separator (``阿依古丽.买买提``), while a full stop at the end is sentence or
   abbreviation punctuation and is kept, so ``张伟。`` does not silently match ``张伟``;
7. whitespace (any Unicode white space) collapsed to one ASCII space, removed around U+00B7, and
   stripped at both ends.

The key is idempotent (``key(key(x)) == key(x)``); it is defined for every ``str`` (validate
first: an invalid name has a key but must never be stored).
"""

from __future__ import annotations

import bisect
import hmac
import re
import unicodedata
from typing import ClassVar, Final

from netid.core.errors import InvalidInput

__all__ = [
    "MAX_NAME_LENGTH",
    "MIDDLE_DOT",
    "MIDDLE_DOT_LOOKALIKES",
    "NAME_RULES",
    "InvalidName",
    "name_matching_key",
    "names_match",
    "validate_name",
]

MIDDLE_DOT: Final = "\u00b7"
"""The name-part separator of 民委发〔2016〕33号 (GB 18030 A1A4)."""

MAX_NAME_LENGTH: Final = 100
"""Maximum name length in code points (民委发〔2016〕33号 requires at least 50)."""

MIDDLE_DOT_LOOKALIKES: Final = frozenset(
    {
        "\u00b7",  # MIDDLE DOT (the standard one)
        "\u0387",  # GREEK ANO TELEIA (NFC maps it to U+00B7 anyway)
        "\u2022",  # BULLET
        "\u2024",  # ONE DOT LEADER
        "\u2027",  # HYPHENATION POINT (Taiwan usage)
        "\u2219",  # BULLET OPERATOR
        "\u22c5",  # DOT OPERATOR
        "\u2e31",  # WORD SEPARATOR MIDDLE DOT
        "\u30fb",  # KATAKANA MIDDLE DOT (Japanese IMEs)
        "\uff65",  # HALFWIDTH KATAKANA MIDDLE DOT (NFKC → U+30FB, not U+00B7)
        "\ua78f",  # LATIN LETTER SINOLOGICAL DOT
    }
)
"""Characters that the matching key maps to :data:`MIDDLE_DOT` wherever they occur."""

_FULL_STOPS: Final = ".\u3002\uff61"  # after width folding, U+FF0E is already "."

# (first, last, rule): disjoint, sorted by first code point.
_REJECTED: Final[tuple[tuple[int, int, str], ...]] = tuple(
    sorted(
        [
            (0x0000, 0x001F, "control"),
            (0x007F, 0x009F, "control"),
            (0x00AD, 0x00AD, "zero_width"),
            (0x034F, 0x034F, "zero_width"),
            (0x061C, 0x061C, "bidi"),
            (0x115F, 0x1160, "zero_width"),
            (0x17B4, 0x17B5, "zero_width"),
            (0x180E, 0x180E, "zero_width"),
            (0x200B, 0x200D, "zero_width"),
            (0x200E, 0x200F, "bidi"),
            (0x2028, 0x2029, "control"),
            (0x202A, 0x202E, "bidi"),
            (0x2060, 0x2064, "zero_width"),
            (0x2066, 0x2069, "bidi"),
            (0x206A, 0x206F, "zero_width"),
            (0x3164, 0x3164, "zero_width"),
            (0xD800, 0xDFFF, "surrogate"),
            (0xE000, 0xF8FF, "private_use"),
            (0xFDD0, 0xFDEF, "noncharacter"),
            (0xFEFF, 0xFEFF, "zero_width"),
            (0xFFA0, 0xFFA0, "zero_width"),
            (0x1BCA0, 0x1BCA3, "zero_width"),
            (0x1D173, 0x1D17A, "zero_width"),
            (0xE0000, 0xE00FF, "zero_width"),
            (0xE01F0, 0xE0FFF, "zero_width"),
            (0xF0000, 0xFFFFD, "private_use"),
            (0x100000, 0x10FFFD, "private_use"),
        ]
        + [(p << 16 | 0xFFFE, p << 16 | 0xFFFF, "noncharacter") for p in range(17)]
    )
)
_REJECTED_FIRSTS: Final = tuple(first for first, _last, _rule in _REJECTED)


def _char_class(ranges: tuple[tuple[int, int, str], ...]) -> str:
    def esc(cp: int) -> str:
        return f"\\U{cp:08x}"

    return "[" + "".join(f"{esc(a)}-{esc(b)}" for a, b, _rule in ranges) + "]"


_REJECTED_RE: Final = re.compile(_char_class(_REJECTED))

NAME_RULES: Final = (
    "empty",
    "too_long",
    "control",
    "bidi",
    "zero_width",
    "surrogate",
    "private_use",
    "noncharacter",
)
"""Every value ``InvalidName.rule`` can take (stable API)."""

_MESSAGES: Final[dict[str, str]] = {
    "empty": "The name is empty.",
    "too_long": f"The name is longer than {MAX_NAME_LENGTH} characters.",
    "control": "The name contains a control character.",
    "bidi": "The name contains a bidirectional formatting character.",
    "zero_width": "The name contains an invisible (zero-width) character.",
    "surrogate": "The name contains an unpaired surrogate code point.",
    "private_use": "The name contains a private-use character.",
    "noncharacter": "The name contains a Unicode noncharacter.",
}


class InvalidName(InvalidInput):
    """A name failed validation; ``rule`` is one of :data:`NAME_RULES`.

    The message and details never contain any part of the submitted name.
    """

    code: ClassVar[str] = "invalid_name"
    default_message: ClassVar[str] = "The name is not valid."

    def __init__(self, rule: str, message: str | None = None) -> None:
        super().__init__(message or _MESSAGES.get(rule), details={"rule": rule})
        self.rule = rule


def _rule_for(cp: int) -> str:
    i = bisect.bisect_right(_REJECTED_FIRSTS, cp) - 1
    first, last, rule = _REJECTED[i]
    assert first <= cp <= last
    return rule


def validate_name(name: str) -> str:
    """Return ``name`` unchanged if it may be registered, else raise :class:`InvalidName`.

    Checks, in order: ``empty`` (no code points or only white space), ``too_long`` (more than
    :data:`MAX_NAME_LENGTH` code points; checked before scanning so a huge input costs little),
    then the first rejected code point decides the rule (see the module docstring).
    """
    if not name or name.isspace():
        raise InvalidName("empty")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidName("too_long")
    bad = _REJECTED_RE.search(name)
    if bad is not None:
        raise InvalidName(_rule_for(ord(bad.group())))
    return name


_VARIATION_SELECTORS_RE: Final = re.compile(
    "[\ufe00-\ufe0f\U000e0100-\U000e01ef\u180b-\u180d\u180f]"
)
_WIDTH_FOLD: Final[dict[int, int]] = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_WIDTH_FOLD[0x3000] = 0x20
_DOT_MAP: Final[dict[int, int]] = {ord(c): ord(MIDDLE_DOT) for c in MIDDLE_DOT_LOOKALIKES}
_SEPARATOR_STOP_RE: Final = re.compile(
    rf"(?<=[^\s{_FULL_STOPS}{MIDDLE_DOT}])\s*[{re.escape(_FULL_STOPS)}]\s*"
    rf"(?=[^\s{_FULL_STOPS}{MIDDLE_DOT}])"
)
_WHITESPACE_RE: Final = re.compile(r"\s+")
_SPACED_DOT_RE: Final = re.compile(rf" ?{MIDDLE_DOT} ?")


def name_matching_key(name: str) -> str:
    """The canonical form used to compare names; never store it in place of the name.

    See the module docstring for the exact steps and the decisions behind them.
    """
    key = _VARIATION_SELECTORS_RE.sub("", name)
    key = unicodedata.normalize("NFC", key)
    key = key.translate(_WIDTH_FOLD)
    key = unicodedata.normalize("NFC", key.casefold())
    key = key.translate(_DOT_MAP)
    key = _SEPARATOR_STOP_RE.sub(MIDDLE_DOT, key)
    key = _WHITESPACE_RE.sub(" ", key).strip(" ")
    return _SPACED_DOT_RE.sub(MIDDLE_DOT, key)


def names_match(a: str, b: str) -> bool:
    """True if the two names have the same matching key.

    The keys are compared with :func:`hmac.compare_digest` on UTF-8, so the time taken does not
    depend on where they differ (only their lengths may show). Defined for every ``str``: lone
    surrogates are encoded with ``surrogatepass`` rather than raising, so comparing an
    unvalidated input never fails.
    """
    ka = name_matching_key(a).encode("utf-8", "surrogatepass")
    kb = name_matching_key(b).encode("utf-8", "surrogatepass")
    return hmac.compare_digest(ka, kb)
