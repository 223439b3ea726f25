"""GB/T 2260 administrative-division codes, historical periods included.

The table is python-stdnum's ``cn/loc`` database (scraped from the zh.wikipedia 行政区划代码
pages, every code with its validity years), read through :func:`stdnum.numdb.get`, plus the
checked-in ``data/region_overrides.txt``. A person keeps the ID number first assigned to them
when their county code is later abolished or renamed (GB 11643-1999 §5.2: the address code is
the GB/T 2260 code of the household registration; in practice the one in force *when the number
was assigned*), so a code that existed
in **any** period counts as known; the year ranges are deliberately ignored.

Province codes (first two digits): 11..65 are mainland provinces; 71 (Taiwan province) exists in
GB/T 2260 but no resident ID number is issued under it; 81/82 (Hong Kong, Macau) only occur as
the fixed prefixes 810000/820000 of residence permits, as does 830000 (Taiwan residents), which
is not a GB/T 2260 code at all.
"""

from __future__ import annotations

import functools
from importlib import resources

from stdnum import numdb

# Province codes under which no resident ID number (GB 11643) is issued.
NON_RESIDENT_ID_PROVINCES: frozenset[str] = frozenset({"71", "81", "82", "83"})
# 港澳台居民居住证: GB 11643 structure with a fixed address code (State Council 2018).
RESIDENCE_PERMIT_PREFIXES: dict[str, str] = {"HK": "810000", "MO": "820000", "TW": "830000"}


def _expand(low: str, high: str) -> list[str]:
    width = len(low)
    return [str(n).zfill(width) for n in range(int(low), int(high) + 1)]


@functools.cache
def _load() -> tuple[frozenset[str], frozenset[str]]:
    """Return (province codes, 6-digit codes) from stdnum's table and the override file."""
    provinces: set[str] = set()
    codes: set[str] = set()
    for length, low, high, _props, children in numdb.get("cn/loc").prefixes:
        if length != 2:  # pragma: no cover - defensive against a changed data layout
            continue
        for province in _expand(low, high):
            provinces.add(province)
            for clen, clow, chigh, _cprops, _grandchildren in children:
                if clen == 4:
                    codes.update(province + rest for rest in _expand(clow, chigh))
    text = resources.files("netid.documents").joinpath("data/region_overrides.txt")
    for line in text.read_text(encoding="utf-8").splitlines():
        token = line.split("#", 1)[0].strip().split(" ", 1)[0]
        if len(token) == 6 and token.isascii() and token.isdigit():
            codes.add(token)
            provinces.add(token[:2])
    return frozenset(provinces), frozenset(codes)


def _is_code(code: str, length: int) -> bool:
    return len(code) == length and code.isascii() and code.isdigit()


def province_exists(code: str) -> bool:
    """True if the 2-digit province code (or the province of a 6-digit code) is in GB/T 2260.

    This includes 71 (Taiwan), 81 and 82 (Hong Kong, Macau); use
    :func:`issues_resident_ids` to ask whether resident ID numbers are issued under it.
    """
    if _is_code(code, 6):
        code = code[:2]
    return _is_code(code, 2) and code in _load()[0]


def issues_resident_ids(code: str) -> bool:
    """True if resident ID numbers are issued under this province (2- or 6-digit code)."""
    if _is_code(code, 6):
        code = code[:2]
    return province_exists(code) and code not in NON_RESIDENT_ID_PROVINCES


def is_known_region(code: str) -> bool:
    """True if the 6-digit code is a GB/T 2260 code that existed in any period."""
    return _is_code(code, 6) and code in _load()[1]


@functools.cache
def known_county_codes() -> tuple[str, ...]:
    """All known 6-digit county-level codes (historical included), sorted, for synthetic data.

    Excluded: codes under provinces that issue no resident IDs (71, 81, 82) and province- or
    prefecture-level aggregate codes (ending in ``00``). Every returned code is accepted by
    :func:`netid.documents.check_document_number` as the address code of a resident ID.
    """
    return tuple(
        sorted(c for c in _load()[1] if issues_resident_ids(c[:2]) and not c.endswith("00"))
    )


def mainland_province_codes() -> tuple[str, ...]:
    """Sorted 2-digit codes of the provinces that issue resident ID numbers."""
    return tuple(sorted(p for p in _load()[0] if p not in NON_RESIDENT_ID_PROVINCES))
