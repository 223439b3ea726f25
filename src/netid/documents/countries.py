"""ISO 3166-1 nationality codes for foreigner's permanent residence ID numbers (via pycountry).

A foreigner's card is never issued to a PRC national, and Hong Kong, Macau and Taiwan residents
hold permits instead, so CHN, HKG, MAC and TWN are not accepted as nationalities. The 2004/2017
15-character cards (issued 2004-2023) may also carry an ISO 3166-3 code withdrawn in 2004 or
later (ANT Netherlands Antilles, SCG Serbia and Montenegro).
"""

from __future__ import annotations

import functools

import pycountry

_NOT_FOREIGN: frozenset[str] = frozenset({"CHN", "HKG", "MAC", "TWN"})
_FIRST_ISSUE_YEAR = 2004  # first foreigner's permanent residence ID cards


@functools.cache
def _current() -> dict[str, str]:
    """alpha-3 → numeric for current ISO 3166-1 countries, minus the non-foreign codes."""
    return {
        str(c.alpha_3): str(c.numeric)
        for c in pycountry.countries
        if str(c.alpha_3) not in _NOT_FOREIGN
    }


@functools.cache
def _numeric_to_alpha3() -> dict[str, str]:
    return {numeric: alpha3 for alpha3, numeric in _current().items()}


@functools.cache
def _legacy_alpha3() -> frozenset[str]:
    codes = set(_current())
    for c in pycountry.historic_countries:
        withdrawn = str(getattr(c, "withdrawal_date", "") or "")
        if withdrawn[:4].isdigit() and int(withdrawn[:4]) >= _FIRST_ISSUE_YEAR:
            codes.add(str(c.alpha_3))
    return frozenset(codes)


def alpha3_for_numeric(numeric: str) -> str | None:
    """alpha-3 of a current foreign country by ISO 3166-1 numeric code (2023 cards)."""
    return _numeric_to_alpha3().get(numeric)


def numeric_for_alpha3(alpha3: str) -> str | None:
    """ISO 3166-1 numeric code of a current foreign country."""
    return _current().get(alpha3)


def is_valid_alpha3_2017(alpha3: str) -> bool:
    """True if the alpha-3 code may appear on a 2004/2017 15-character card."""
    return alpha3 in _legacy_alpha3()


def foreign_alpha3_codes() -> tuple[str, ...]:
    """Sorted alpha-3 codes of current foreign countries (deterministic order for synth)."""
    return tuple(sorted(_current()))
